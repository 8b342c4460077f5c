// Program bigheap writes a large, realistic Go heap profile for heapdoc's
// benchmarks (issue 9): real runtime output at MemProfileRate=1, with many
// distinct allocation stacks. Each walk follows a pseudo-random path of
// depth 1..40 through 48 generated functions (funcs_gen.go), with three
// call-site shapes per step (direct, inlined helper, inlined closure), from
// one of two goroutine entry points, and allocates at one of four leaf lines
// per function with a seed-dependent size; some walks repeat with another
// size, so one stack can have several samples (Go buckets by stack and size).
//
//	go run . -scale 1 -out big.pb.gz   # ~2 MB uncompressed (see
//	                                   # scripts/gen-large-profile.sh)
//
// Deterministic for a given -scale and -seed, except for addresses.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
)

// Set before any allocation that should be recorded (package init order:
// this runs before main, after the runtime's own init).
var _ = func() int { runtime.MemProfileRate = 1; return 0 }()

type node struct {
	v   uint64
	k   int
	pad []byte
}

var (
	sinkB  []byte
	sinkP  *node
	sinkS  string
	keep   [4096][]uint64
	digits = []byte("0123456789abcdefghijklmnopqrstuvwxyz")
)

func mix(s uint64) uint64 {
	s ^= s >> 31
	s *= 0x9e3779b97f4a7c15
	return s ^ s>>29
}

// walkA and walkB are the two goroutine entry points.
//
//go:noinline
func walkA(seed uint64, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	walks(seed, n)
}

//go:noinline
func walkB(seed uint64, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	walks(seed, n)
}

func walks(seed uint64, n int) {
	for i := 0; i < n; i++ {
		seed = mix(seed + uint64(i))
		depth := 1 + int(seed>>3%40)
		reps := 1 + int(seed>>50%3)
		for r := 0; r < reps; r++ {
			// Same path (seed), another size per repetition: a new
			// (stack, size) bucket on the same stack, as in real services.
			fns[seed>>8%nFuncs](seed, depth, seed>>40+uint64(r)*7)
		}
	}
}

func main() {
	scale := flag.Float64("scale", 1, "work multiplier: 1 gives a ~2 MB uncompressed profile")
	seed := flag.Uint64("seed", 1, "walk seed")
	out := flag.String("out", "bigheap.pb.gz", "output file (gzipped profile.proto)")
	flag.Parse()
	n := int(*scale * 12000)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		if g%2 == 0 {
			go walkA(*seed*1000+uint64(g), n/4, &wg)
		} else {
			go walkB(*seed*1000+uint64(g), n/4, &wg)
		}
	}
	wg.Wait()
	runtime.GC()
	f, err := os.Create(*out)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigheap:", err)
		os.Exit(1)
	}
}
