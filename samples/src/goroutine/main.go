// Program goroutine: one goroutine per request. Each request spawns a
// goroutine with an argument (the go statement allocates a closure for the
// argument at the user's line) and the runtime allocates a new g (runtime.malg)
// when no dead goroutine can be reused (cause "goroutine").
package main

import (
	"sync"

	"heapdoc.dev/samples/internal/harness"
)

var (
	wg      sync.WaitGroup
	results [256]int64
	gate    = make(chan struct{})
)

func setup() {}

//go:noinline
func handle(id int) {
	<-gate // keep all goroutines of a batch alive at once
	results[id%len(results)] += int64(id)
	wg.Done()
}

// goroutinePerRequest starts batches of 200 goroutines that are all alive at
// the same time, so the runtime must create new gs instead of reusing dead ones.
//
//go:noinline
func goroutinePerRequest(n int) {
	for i := 0; i < n; i += 200 {
		wg.Add(200)
		for j := 0; j < 200; j++ {
			go handle(i + j)
		}
		for j := 0; j < 200; j++ {
			gate <- struct{}{}
		}
		wg.Wait()
	}
}

func main() {
	harness.Main("goroutine", setup, []harness.Workload{
		{Name: "main.goroutinePerRequest", Fn: goroutinePerRequest, N: 2000},
	})
}
