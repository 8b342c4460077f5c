// Package rate sets runtime.MemProfileRate from $SAMPLES_MEMPROFILERATE in
// its init function. Import it for its side effect, before anything that
// allocates in interesting ways.
//
// GODEBUG=memprofilerate=N would be better (it applies from the first
// allocation), but Go 1.19 ignores it: runtime's package initialization
// resets MemProfileRate to its default after GODEBUG is parsed. With this
// package, allocations made before this init runs (runtime start-up and the
// init functions of the packages it depends on) are sampled at the default
// rate on Go 1.19; everything after, including all workloads, is exact.
package rate

import (
	"os"
	"runtime"
	"strconv"
)

func init() {
	if v := os.Getenv("SAMPLES_MEMPROFILERATE"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			runtime.MemProfileRate = n
		}
	}
}
