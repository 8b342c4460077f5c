// Program logging: log-style %v formatting of structs with package log
// (main.logStructV) and, on Go >= 1.21, log/slog (main.slogStructAny in
// slog.go). Output goes to a writer that discards it. Arguments are boxed in setup, so
// every allocation happens inside log, log/slog, fmt or the reflection fmt
// uses (cause "logging").
package main

import (
	"fmt"
	"log"
	"time"

	"heapdoc.dev/samples/internal/harness"
)

type Request struct {
	Method  string
	Path    string
	Status  int
	Started time.Time
	Headers map[string]string
	Latency time.Duration
}

// sink discards output. It is not io.Discard on purpose: since Go 1.21 a
// log.Logger whose writer is io.Discard skips formatting entirely.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

var (
	logger *log.Logger
	reqs   []any // pre-boxed *Request values
)

func setup() {
	logger = log.New(sink{}, "svc ", log.LstdFlags|log.Lmicroseconds)
	for i := 0; i < 32; i++ {
		reqs = append(reqs, &Request{
			Method:  "POST",
			Path:    fmt.Sprint("/api/v1/orders/", i),
			Status:  200 + i%3,
			Started: time.Date(2024, 5, 1, 12, 0, i, 0, time.UTC),
			Headers: map[string]string{"content-type": "application/json", "x-request-id": fmt.Sprint("req-", i), "accept": "*/*"},
			Latency: time.Duration(i) * time.Millisecond,
		})
	}
	setupSlog()
}

//go:noinline
func logStructV(n int) {
	for i := 0; i < n; i++ {
		logger.Printf("handled request %v", reqs[i%len(reqs)])
	}
}

func main() {
	harness.Main("logging", setup, []harness.Workload{
		{Name: "main.logStructV", Fn: logStructV, N: 2000},
	})
}
