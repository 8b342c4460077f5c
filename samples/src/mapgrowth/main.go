// Program mapgrowth: maps created without a size hint and filled, so the
// runtime allocates the map header and grows its buckets/tables (runtime and,
// on Go >= 1.24, internal/runtime/maps frames, dropped from heap profiles:
// the user's lines are the leaves; cause "map-growth").
package main

import "heapdoc.dev/samples/internal/harness"

var (
	keys    []string
	sinkMap map[string]int
	sinkIdx map[int64]int64
)

func setup() {
	for i := 0; i < 500; i++ {
		keys = append(keys, "key-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
}

//go:noinline
func fillMapNoHint(n int) {
	for i := 0; i < n; i++ {
		m := make(map[string]int)
		for j, k := range keys {
			m[k] = j
		}
		sinkMap = m
		idx := map[int64]int64{}
		for j := int64(0); j < 300; j++ {
			idx[j*7919] = j
		}
		sinkIdx = idx
	}
}

func main() {
	harness.Main("mapgrowth", setup, []harness.Workload{
		{Name: "main.fillMapNoHint", Fn: fillMapNoHint, N: 200},
	})
}
