package main

// Measure mode (MIXED_MEASURE=<file.json>): run every case's workload and its
// variants once each with MemProfileRate=1 and write, per run, the bytes and
// objects allocated per (site, object size), taken from runtime.MemProfile
// before and after the run. The site is the first frame after the leading
// runtime frames, found the way runtime/pprof's heap writer finds it (by
// runtime.FuncForPC of each PC), so it names exactly what the profile's leaf
// location names. samples/tools/mixedtruth.py turns this into the truth.

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
)

type siteKey struct {
	fn, file string
	line     int
	size     int64
}

type measuredRow struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Size     int64  `json:"size"`
	Bytes    int64  `json:"bytes"`
	Objects  int64  `json:"objects"`
}

type measuredRun struct {
	Function string        `json:"function"`
	Removes  []string      `json:"removes"`
	Rows     []measuredRow `json:"rows"`
}

type measuredCase struct {
	Workload   string        `json:"workload"`
	Iterations int           `json:"iterations"`
	Runs       []measuredRun `json:"runs"`
}

type recKey struct {
	stk  [32]uintptr
	size int64
}

func snapshot() map[recKey][2]int64 {
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	m := make(map[recKey][2]int64, len(recs))
	for _, r := range recs {
		if r.AllocObjects == 0 {
			continue
		}
		k := recKey{r.Stack0, r.AllocBytes / r.AllocObjects}
		v := m[k]
		m[k] = [2]int64{v[0] + r.AllocBytes, v[1] + r.AllocObjects}
	}
	return m
}

func isRuntime(name string) bool {
	return strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/")
}

// site returns the leaf site of a record's stack and whether fn is on it.
func site(stk []uintptr, fn string) (runtime.Frame, bool) {
	for i, pc := range stk {
		if f := runtime.FuncForPC(pc); f != nil && isRuntime(f.Name()) {
			continue
		}
		stk = stk[i:]
		break
	}
	frames := runtime.CallersFrames(stk)
	var leaf runtime.Frame
	first, found := true, false
	for {
		f, more := frames.Next()
		if first {
			leaf, first = f, false
		}
		if f.Function == fn {
			found = true
		}
		if !more {
			break
		}
	}
	return leaf, found
}

func measureRun(fn func(int), n int) []measuredRow {
	name := funcName(fn)
	before := snapshot()
	fn(n)
	after := snapshot()
	acc := map[siteKey][2]int64{}
	for k, v := range after {
		d := [2]int64{v[0] - before[k][0], v[1] - before[k][1]}
		if d[1] == 0 {
			continue
		}
		stk := k.stk[:]
		for i, pc := range stk {
			if pc == 0 {
				stk = stk[:i]
				break
			}
		}
		leaf, ok := site(stk, name)
		if !ok {
			continue
		}
		sk := siteKey{leaf.Function, leaf.File, leaf.Line, k.size}
		a := acc[sk]
		acc[sk] = [2]int64{a[0] + d[0], a[1] + d[1]}
	}
	rows := []measuredRow{}
	for k, v := range acc {
		rows = append(rows, measuredRow{k.fn, k.file, k.line, k.size, v[0], v[1]})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Size < b.Size
	})
	return rows
}

// maybeMeasure runs the measure mode when MIXED_MEASURE is set.
func maybeMeasure() bool {
	path := os.Getenv("MIXED_MEASURE")
	if path == "" {
		return false
	}
	runtime.MemProfileRate = 1
	setup()
	var out struct {
		GoVersion string         `json:"go_version"`
		Cases     []measuredCase `json:"cases"`
	}
	out.GoVersion = runtime.Version()
	for _, c := range cases {
		mc := measuredCase{Workload: funcName(c.workload), Iterations: c.n}
		mc.Runs = append(mc.Runs, measuredRun{funcName(c.workload), []string{}, measureRun(c.workload, c.n)})
		for _, v := range c.variants {
			mc.Runs = append(mc.Runs, measuredRun{funcName(v.fn), v.removes, measureRun(v.fn, c.n)})
		}
		out.Cases = append(out.Cases, mc)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	return true
}
