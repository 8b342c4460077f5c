//go:build ignore

// Writes the heap profiles that tests/fetch.rs serves from its loopback server:
// fetch_heap.pb.gz (what /debug/pprof/heap returns) and fetch_heap.debug1.txt
// (what /debug/pprof/heap?debug=1 returns). Regenerate with:
//
//	go run tests/data/fetch_heap.go tests/data
package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
)

var sink [][]byte

//go:noinline
func buildRows(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, []byte(strings.Repeat("x", 1024)))
	}
}

func main() {
	runtime.MemProfileRate = 64 * 1024
	buildRows(2000)
	runtime.GC()
	dir := os.Args[1]
	write := func(name string, debug int) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, debug); err != nil {
			panic(err)
		}
		if err := f.Close(); err != nil {
			panic(err)
		}
	}
	write("fetch_heap.pb.gz", 0)
	write("fetch_heap.debug1.txt", 1)
}
