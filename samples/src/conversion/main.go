// Program conversion: []byte -> string and string -> []byte conversions of
// values that escape (runtime.slicebytetostring / stringtoslicebyte, dropped
// from heap profiles, so the user's line is the leaf; cause
// "byte-string-conversion").
package main

import (
	"strings"

	"heapdoc.dev/samples/internal/harness"
)

var (
	byteVals  [][]byte
	strVals   []string
	sinkStr   string
	sinkBytes []byte
)

func setup() {
	for i := 0; i < 64; i++ {
		s := strings.Repeat("k", 40+i)
		strVals = append(strVals, s)
		byteVals = append(byteVals, []byte(s))
	}
}

//go:noinline
func convertBytesStrings(n int) {
	for i := 0; i < n; i++ {
		k := i % len(strVals)
		sinkStr = string(byteVals[k])
		sinkBytes = []byte(strVals[k])
	}
}

func main() {
	harness.Main("conversion", setup, []harness.Workload{
		{Name: "main.convertBytesStrings", Fn: convertBytesStrings, N: 4000},
	})
}
