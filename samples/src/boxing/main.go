// Program boxing: non-pointer values converted to interface types (any),
// which copies them to the heap (runtime.convT64, convTstring, convT,
// convTslice). The runtime frames are dropped from heap profiles, so the
// allocation shows at the user's line only (cause "interface-conversion").
package main

import "heapdoc.dev/samples/internal/harness"

type Point struct{ X, Y, Z float64 }

var (
	ints    []int64
	strs    []string
	points  []Point
	slices  [][]byte
	sinkAny [4]any
)

func setup() {
	for i := 0; i < 64; i++ {
		ints = append(ints, int64(100000+i))
		strs = append(strs, string(rune('a'+i%26))+"-value")
		points = append(points, Point{float64(i), float64(2 * i), float64(3 * i)})
		slices = append(slices, make([]byte, 8))
	}
}

//go:noinline
func store(i int, v any) { sinkAny[i] = v }

//go:noinline
func boxValues(n int) {
	for i := 0; i < n; i++ {
		k := i % len(ints)
		sinkAny[0] = ints[k]   // convT64: 8 bytes
		sinkAny[1] = strs[k]   // convTstring: 16 bytes
		store(2, points[k])    // convT: 24 bytes, boxed for the call
		sinkAny[3] = slices[k] // convTslice: 24 bytes
	}
}

func main() {
	harness.Main("boxing", setup, []harness.Workload{
		{Name: "main.boxValues", Fn: boxValues, N: 4000},
	})
}
