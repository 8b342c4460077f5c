// Program moved: the diff test's fixture (tests/diff_moved.rs, issue 18). It allocates at
// two sites with MemProfileRate = 1 and writes its allocs profile to the path in argv[1].
// The test builds this file in one directory as BASE and, in another directory, with
// blank lines added above everything and the buffer right-sized (FIX), as NEW.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

var (
	bufs  [16][]byte
	recs  [16]*record
)

type record struct{ id, a, b, c, d, e, f, g int }

//go:noinline
func buffer() []byte {
	return make([]byte, 4096) // FIX: 4096 -> 512
}

//go:noinline
func newRecord(i int) *record {
	return &record{id: i}
}

func main() {
	for i := 0; i < 2000; i++ {
		bufs[i%16] = buffer()
		recs[i%16] = newRecord(i)
	}
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func init() {
	// Every allocation sampled: the two builds allocate the same objects but for the fix.
	runtime.MemProfileRate = 1
}
