// Program fmt: fmt.Sprintf in a loop. The arguments are boxed into
// interface values once, in setup, so the workload allocates only inside
// package fmt (cause "fmt").
package main

import (
	"fmt"

	"heapdoc.dev/samples/internal/harness"
)

var (
	names   []any // pre-boxed string arguments
	counts  []any // pre-boxed int arguments
	prices  []any // pre-boxed float64 arguments
	sinkStr string
)

func setup() {
	for i := 0; i < 64; i++ {
		names = append(names, fmt.Sprint("customer-", i))
		counts = append(counts, 1000+i)
		prices = append(prices, 3.25*float64(i))
	}
}

//go:noinline
func sprintfLoop(n int) {
	for i := 0; i < n; i++ {
		k := i % len(names)
		sinkStr = fmt.Sprintf("order for %s: %d items, total %.2f EUR", names[k], counts[k], prices[k])
	}
}

func main() {
	harness.Main("fmt", setup, []harness.Workload{
		{Name: "main.sprintfLoop", Fn: sprintfLoop, N: 4000},
	})
}
