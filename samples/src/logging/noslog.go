//go:build !go1.21

package main

// Go before 1.21 has no log/slog: the slog workload is not built.
func setupSlog() {}
