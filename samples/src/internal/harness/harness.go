// Package harness runs the workload functions of one sample program and
// writes its profiles. It is shared by every program under samples/src.
//
// Modes:
//
//	-mode mem  run every workload once (N iterations each), then runtime.GC()
//	           and write <prog>.heap.<rate>.pb.gz, <prog>.allocs.<rate>.pb.gz,
//	           <prog>.heap.<rate>.debug1.txt and <prog>.<rate>.run.json, where
//	           <rate> is "rate1" when runtime.MemProfileRate == 1 and "default"
//	           otherwise. generate.sh sets both GODEBUG=memprofilerate=1 (exact
//	           from the first allocation, Go >= 1.20ish) and
//	           SAMPLES_MEMPROFILERATE=1 (see package rate; needed on Go 1.19).
//	-mode cpu  run the workloads round-robin for -duration under the CPU
//	           profiler and write <prog>.cpu.pb.gz.
//
// The harness's own allocations (flag parsing, files, the profile writers)
// never have a workload function on their stack.
package harness

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	_ "heapdoc.dev/samples/internal/rate"
)

// Workload is one function whose every allocation has a single known cause.
type Workload struct {
	Name string      // as it appears in profiles, e.g. "main.decodeIntoMap"
	Fn   func(n int) // does n iterations; allocates only through its cause
	N    int         // iterations in -mode mem
}

type runStat struct {
	Name       string `json:"function"`
	Iterations int    `json:"iterations"`
	TotalAlloc uint64 `json:"memstats_total_alloc_delta"`
	Mallocs    uint64 `json:"memstats_mallocs_delta"`
	DurationNS int64  `json:"duration_ns"`
}

type runInfo struct {
	Program        string    `json:"program"`
	GoVersion      string    `json:"go_version"`
	MemProfileRate int       `json:"memprofilerate"`
	Workloads      []runStat `json:"workloads"`
}

var extra []Workload

// Register adds a workload from another file of the program (used by files
// behind build tags, e.g. the log/slog workload that Go 1.19 cannot build).
func Register(w Workload) { extra = append(extra, w) }

// Main parses flags and runs the program. setup builds input data and is
// called before any measurement.
func Main(prog string, setup func(), ws []Workload) {
	rate := runtime.MemProfileRate
	out := flag.String("out", ".", "output directory")
	mode := flag.String("mode", "mem", "mem or cpu")
	dur := flag.Duration("duration", 1500*time.Millisecond, "cpu mode: how long to run")
	flag.Parse()
	ws = append(ws, extra...)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatal(err)
	}
	setup()
	runtime.GC()
	switch *mode {
	case "mem":
		label := "default"
		if rate == 1 {
			label = "rate1"
		}
		info := runInfo{Program: prog, GoVersion: runtime.Version(), MemProfileRate: rate}
		var before, after runtime.MemStats
		for _, w := range ws {
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			w.Fn(w.N * *scale)
			d := time.Since(t0)
			runtime.ReadMemStats(&after)
			info.Workloads = append(info.Workloads, runStat{
				Name: w.Name, Iterations: w.N * *scale,
				TotalAlloc: after.TotalAlloc - before.TotalAlloc,
				Mallocs:    after.Mallocs - before.Mallocs,
				DurationNS: int64(d),
			})
		}
		runtime.GC()
		base := filepath.Join(*out, prog)
		writeProfile("heap", 0, base+".heap."+label+".pb.gz")
		writeProfile("allocs", 0, base+".allocs."+label+".pb.gz")
		writeProfile("heap", 1, base+".heap."+label+".debug1.txt")
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			fatal(err)
		}
		if err := os.WriteFile(base+"."+label+".run.json", append(b, '\n'), 0o644); err != nil {
			fatal(err)
		}
	case "cpu":
		f, err := os.Create(filepath.Join(*out, prog+".cpu.pb.gz"))
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		deadline := time.Now().Add(*dur)
		for time.Now().Before(deadline) {
			for _, w := range ws {
				n := w.N / 4
				if n < 1 {
					n = 1
				}
				w.Fn(n)
			}
		}
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fatal(err)
		}
	default:
		fatal(fmt.Errorf("unknown -mode %q", *mode))
	}
}

func writeProfile(name string, debug int, path string) {
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	if err := pprof.Lookup(name).WriteTo(f, debug); err != nil {
		fatal(err)
	}
	if err := f.Close(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "harness:", err)
	os.Exit(1)
}
