// Program context: context.WithTimeout on every call (the timerCtx, its
// cancel func and the runtime timer are allocated inside package context and
// package time; cause "context-and-timers").
package main

import (
	"context"
	"time"

	"heapdoc.dev/samples/internal/harness"
)

var (
	parent  context.Context
	sinkCtx context.Context
)

func setup() {
	parent = context.Background()
}

//go:noinline
func withTimeoutPerCall(n int) {
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(parent, 5*time.Second)
		sinkCtx = ctx
		cancel()
	}
}

func main() {
	harness.Main("context", setup, []harness.Workload{
		{Name: "main.withTimeoutPerCall", Fn: withTimeoutPerCall, N: 4000},
	})
}
