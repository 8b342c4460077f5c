// Program goroutine: one goroutine per request, 200 alive at a time. The go
// statement with an argument allocates a closure holding the argument at the
// user's line. The runtime's own allocations for a new goroutine
// (runtime.malg for the g, runtime.allgadd growing allgs) run on the system
// stack (runtime.systemstack) and their recorded stacks stop there: they do
// not have main.goroutinePerRequest on their stack (cause "goroutine").
package main

import (
	"runtime"
	"sync"
	"sync/atomic"

	"heapdoc.dev/samples/internal/harness"
)

var (
	gate    sync.RWMutex // held by the workload while it starts a batch
	done    int32
	results [256]int64
)

func setup() {}

//go:noinline
func handle(id int) {
	gate.RLock() // blocks until the whole batch is started
	atomic.AddInt64(&results[id%len(results)], int64(id))
	gate.RUnlock()
	atomic.AddInt32(&done, 1)
}

// goroutinePerRequest starts batches of 200 goroutines that are all alive at
// the same time, so the runtime must create new gs instead of reusing dead
// ones. It never blocks itself (a blocking channel operation or
// WaitGroup.Wait could allocate a sudog at the user's line); it waits by
// yielding.
//
//go:noinline
func goroutinePerRequest(n int) {
	for i := 0; i < n; i += 200 {
		atomic.StoreInt32(&done, 0)
		gate.Lock()
		for j := 0; j < 200; j++ {
			go handle(i + j)
		}
		gate.Unlock()
		for atomic.LoadInt32(&done) < 200 {
			runtime.Gosched()
		}
	}
}

func main() {
	harness.Main("goroutine", setup, []harness.Workload{
		{Name: "main.goroutinePerRequest", Fn: goroutinePerRequest, N: 2000},
	})
}
