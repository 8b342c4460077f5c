// Program bytebuffer: a bytes.Buffer that grows as data is written to it
// (allocations inside bytes.(*Buffer).grow; cause "io-buffers").
package main

import (
	"bytes"

	"heapdoc.dev/samples/internal/harness"
)

var (
	chunks  [][]byte
	sinkBuf []byte
)

func setup() {
	for i := 0; i < 64; i++ {
		chunks = append(chunks, bytes.Repeat([]byte{'a' + byte(i%26)}, 50+i*3))
	}
}

//go:noinline
func bufferGrowth(n int) {
	for i := 0; i < n; i++ {
		var buf bytes.Buffer
		for j := 0; j < 30; j++ {
			buf.Write(chunks[(i+j)%len(chunks)])
			buf.WriteString("\r\n")
		}
		sinkBuf = buf.Bytes()
	}
}

func main() {
	harness.Main("bytebuffer", setup, []harness.Workload{
		{Name: "main.bufferGrowth", Fn: bufferGrowth, N: 1000},
	})
}
