//go:build go1.21

package main

import (
	"log/slog"

	"heapdoc.dev/samples/internal/harness"
)

var slogger *slog.Logger

func setupSlog() {
	slogger = slog.New(slog.NewTextHandler(sink{}, nil))
}

func init() {
	harness.Register(harness.Workload{Name: "main.slogStructAny", Fn: slogStructAny, N: 2000})
}

//go:noinline
func slogStructAny(n int) {
	for i := 0; i < n; i++ {
		slogger.Info("handled request", "req", reqs[i%len(reqs)])
	}
}
