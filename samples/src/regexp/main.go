// Program regexp: regexp.MustCompile on every call instead of once at
// package level (all allocations inside package regexp and regexp/syntax;
// cause "regexp").
package main

import (
	"regexp"

	"heapdoc.dev/samples/internal/harness"
)

var (
	pattern  = `^/api/v(\d+)/orders/([a-z0-9-]+)(\?.*)?$`
	paths    []string
	sinkBool bool
	sinkRe   *regexp.Regexp
)

func setup() {
	paths = []string{"/api/v1/orders/ord-000001", "/api/v2/orders/abc?x=1", "/health", "/api/v1/users/7"}
}

//go:noinline
func compilePerCall(n int) {
	for i := 0; i < n; i++ {
		re := regexp.MustCompile(pattern)
		sinkBool = re.MatchString(paths[i%len(paths)])
		sinkRe = re
	}
}

func main() {
	harness.Main("regexp", setup, []harness.Workload{
		{Name: "main.compilePerCall", Fn: compilePerCall, N: 500},
	})
}
