// Program stringbuild: building strings with + in a loop (runtime.concatstrings,
// dropped from heap profiles, so only the user's line shows) and with a
// strings.Builder that grows without Grow (allocations inside
// strings.(*Builder)). Both are cause "string-building".
package main

import (
	"strings"

	"heapdoc.dev/samples/internal/harness"
)

var (
	parts   []string
	sinkStr [2]string
)

func setup() {
	for i := 0; i < 64; i++ {
		parts = append(parts, strings.Repeat("x", 5+i%11))
	}
}

//go:noinline
func concatPlus(n int) {
	for i := 0; i < n; i++ {
		s := ""
		for j := 0; j < 20; j++ {
			s = s + parts[(i+j)%len(parts)] + ","
		}
		sinkStr[0] = s
	}
}

//go:noinline
func builderGrowth(n int) {
	for i := 0; i < n; i++ {
		var b strings.Builder
		for j := 0; j < 40; j++ {
			b.WriteString(parts[(i+j)%len(parts)])
			b.WriteByte(',')
		}
		sinkStr[1] = b.String()
	}
}

func main() {
	harness.Main("stringbuild", setup, []harness.Workload{
		{Name: "main.concatPlus", Fn: concatPlus, N: 1000},
		{Name: "main.builderGrowth", Fn: builderGrowth, N: 1000},
	})
}
