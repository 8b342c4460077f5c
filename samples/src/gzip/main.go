// Program gzip: a new compress/gzip writer per request (gzip.Writer plus the
// large compress/flate compressor state allocated on first Write; cause
// "compression").
package main

import (
	"compress/gzip"
	"io"
	"strings"

	"heapdoc.dev/samples/internal/harness"
)

var (
	payloads [][]byte
	out      io.Writer = io.Discard
)

func setup() {
	for i := 0; i < 8; i++ {
		payloads = append(payloads, []byte(strings.Repeat(`{"id":"ord-1","qty":3,"sku":"sku-1-2"},`, 20+i*10)))
	}
}

//go:noinline
func gzipPerRequest(n int) {
	for i := 0; i < n; i++ {
		zw := gzip.NewWriter(out)
		if _, err := zw.Write(payloads[i%len(payloads)]); err != nil {
			panic(err)
		}
		if err := zw.Close(); err != nil {
			panic(err)
		}
	}
}

func main() {
	harness.Main("gzip", setup, []harness.Workload{
		{Name: "main.gzipPerRequest", Fn: gzipPerRequest, N: 100},
	})
}
