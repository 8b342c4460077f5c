// Program appendgrowth: append without preallocation, so the backing array
// is reallocated as it grows (runtime.growslice, dropped from heap profiles:
// the user's append line is the leaf; cause "slice-growth").
package main

import "heapdoc.dev/samples/internal/harness"

type Row struct {
	ID    int64
	Score float64
	Name  string
}

var (
	names    []string
	sinkInts []int
	sinkRows []Row
)

func setup() {
	for i := 0; i < 64; i++ {
		names = append(names, "row")
	}
}

//go:noinline
func appendNoPrealloc(n int) {
	for i := 0; i < n; i++ {
		var ints []int
		for j := 0; j < 300; j++ {
			ints = append(ints, j*i)
		}
		sinkInts = ints
		var rows []Row
		for j := 0; j < 100; j++ {
			rows = append(rows, Row{ID: int64(j), Score: float64(i), Name: names[j%len(names)]})
		}
		sinkRows = rows
	}
}

func main() {
	harness.Main("appendgrowth", setup, []harness.Workload{
		{Name: "main.appendNoPrealloc", Fn: appendNoPrealloc, N: 1000},
	})
}
