// Program closure: function literals that capture local variables and
// escape (stored in package-level variables). The closure object, and a
// captured variable that is modified after capture ("moved to heap"), are
// allocated at the user's lines (cause "closure").
package main

import "heapdoc.dev/samples/internal/harness"

var (
	base      []int
	sinkFuncs [2]func() int
)

func setup() {
	for i := 0; i < 64; i++ {
		base = append(base, i*7)
	}
}

//go:noinline
func makeClosures(n int) {
	for i := 0; i < n; i++ {
		x, y := base[i%len(base)], i
		sinkFuncs[0] = func() int { return x + y } // closure capturing x, y by value
		counter := x                               // moved to heap: captured by reference
		sinkFuncs[1] = func() int { counter++; return counter }
	}
}

func main() {
	harness.Main("closure", setup, []harness.Workload{
		{Name: "main.makeClosures", Fn: makeClosures, N: 4000},
	})
}
