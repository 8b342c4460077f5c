package main

// Variants of each workload with one (or more) allocation mechanism removed
// from the tagged line. They are never profiled by the harness: measure.go
// runs them (MIXED_MEASURE=file) to measure, per object size, how many bytes
// each mechanism of the workload's tagged line allocates. Each variant keeps
// the workload's shape and tags its changed line with the same `// @tag`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"sort"

	"heapdoc.dev/samples/internal/harness"
)

// variant removes the named mechanisms (names are per case; their causes are
// in samples/tools/mixed-spec.json).
type variant struct {
	fn      func(int)
	removes []string
}

type mixedCase struct {
	workload func(int)
	n        int // iterations in -mode mem (each iterates over 12..64 inputs)
	variants []variant
}

var cases = []mixedCase{
	{listKeys, 40, []variant{{listKeysPreboxed, []string{"fmt-args"}}, {listKeysPresized, []string{"growth"}}}},
	{groupByTenant, 40, []variant{{groupByTenantHinted, []string{"map"}}, {groupByTenantPregrouped, []string{"growth"}}}},
	{signup, 40, []variant{{signupPrejoined, []string{"concat"}}, {signupByValue, []string{"escape"}}}},
	{logAccess, 40, []variant{{logAccessPreboxed, []string{"log-args"}}}},
	{validateOrders, 40, []variant{{validateOrdersPreboxed, []string{"helper-args"}}}},
	{splitFields, 40, []variant{{splitFieldsReused, []string{"make"}}}},
	{registerRoutes, 40, []variant{{registerRoutesPrebound, []string{"method-value"}}}},
	{observeLatency, 40, []variant{{observeLatencyPreboxed, []string{"box"}}}},
	{orderLabels, 40, []variant{{orderLabelsPreboxed, []string{"fmt-args"}}}},
	{writeWords, 40, []variant{{writeWordsPreboxed, []string{"fmt-args"}}}},
	{countWords, 40, []variant{{countWordsPreconverted, []string{"conversion"}}, {countWordsHinted, []string{"map"}}}},
	{csvLines, 40, []variant{{csvLinesPreboxed, []string{"fmt-args"}}, {csvLinesNoConcat, []string{"concat"}}}},
	{withRequestID, 40, []variant{{withRequestIDPreboxed, []string{"ctx-arg"}}}},
	{sortOrders, 40, []variant{{sortOrdersPreboxed, []string{"box"}}, {sortOrdersPlainFunc, []string{"closure"}}}},
	{renderStatus, 10, []variant{{renderStatusPreboxed, []string{"box"}}, {renderStatusReusedMap, []string{"map"}}}},
}

func funcName(f func(int)) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}

func workloads() []harness.Workload {
	var ws []harness.Workload
	for _, c := range cases {
		ws = append(ws, harness.Workload{Name: funcName(c.workload), Fn: c.workload, N: c.n})
	}
	return ws
}

// Pre-built inputs of the variants (setup, never measured).
var (
	idsBoxed     []any
	regionsBoxed []any
	keyBuf       []string
	grouped      map[string][]Event
	emails       []string
	userArr      [64]User
	reqsBoxed    []any
	skusBoxed    []any
	qtysBoxed    []any
	fieldBuf     [][]byte
	bound        []func(w io.Writer, id string)
	latBoxed     []any
	orderBoxed   []any
	wordsBoxed   []any
	wordStrs     []string
	rowsBoxed    [][]any
	lastPart     string
	reqIDsBoxed  []any
	batchBoxed   any
	statusMap    = map[string]any{"sku": nil, "qty": nil}
)

// laterSetups holds the setup functions of files built only by newer Go
// versions (clone.go, slog.go).
var laterSetups []func()

func setupVariants() {
	for j := range users {
		idsBoxed = append(idsBoxed, users[j].ID)
		regionsBoxed = append(regionsBoxed, users[j].Region)
	}
	keyBuf = make([]string, 0, len(users))
	grouped = map[string][]Event{}
	for _, ev := range events {
		grouped[ev.Tenant] = append(grouped[ev.Tenant], ev)
	}
	for _, n := range names {
		emails = append(emails, n+"@example.com")
	}
	for j := range reqs {
		reqsBoxed = append(reqsBoxed, reqs[j])
	}
	for j := range items {
		skusBoxed = append(skusBoxed, items[j].SKU)
		qtysBoxed = append(qtysBoxed, items[j].Qty)
	}
	fieldBuf = make([][]byte, 16)
	for j := range apis {
		bound = append(bound, apis[j].getOrder)
	}
	for j := range spans {
		latBoxed = append(latBoxed, spans[j].End-spans[j].Start)
	}
	for j := range orderIDs {
		orderBoxed = append(orderBoxed, uint64(orderIDs[j]))
	}
	for _, w := range words {
		wordsBoxed = append(wordsBoxed, w)
	}
	for _, w := range wordBytes {
		wordStrs = append(wordStrs, string(w))
	}
	for _, r := range rows {
		var b []any
		for _, v := range r.vals {
			b = append(b, v)
		}
		rowsBoxed = append(rowsBoxed, b)
	}
	for _, id := range reqIDs {
		reqIDsBoxed = append(reqIDsBoxed, id)
	}
	batchBoxed = batchBuf
	for _, f := range laterSetups {
		f()
	}
}

//go:noinline
func listKeysPreboxed(n int) {
	for i := 0; i < n; i++ {
		var keys []string
		for j := range users {
			_ = &users[j]
			keys = append(keys, fmt.Sprintf("user:%d:%s", idsBoxed[j], regionsBoxed[j])) // @keys
		}
		sinkKeys = keys
	}
}

//go:noinline
func listKeysPresized(n int) {
	for i := 0; i < n; i++ {
		keys := keyBuf[:0]
		for j := range users {
			u := &users[j]
			keys = append(keys, fmt.Sprintf("user:%d:%s", u.ID, u.Region)) // @keys
		}
		sinkKeys = keys
	}
}

//go:noinline
func groupByTenantHinted(n int) {
	for i := 0; i < n; i++ {
		byTenant := make(map[string][]Event, 64) // room to spare: no overflow buckets (Go 1.19)
		for j := range events {
			ev := events[j]
			byTenant[ev.Tenant] = append(byTenant[ev.Tenant], ev) // @group
		}
		sinkGroups = byTenant
	}
}

//go:noinline
func groupByTenantPregrouped(n int) {
	for i := 0; i < n; i++ {
		byTenant := make(map[string][]Event)
		for j := range events {
			ev := events[j]
			byTenant[ev.Tenant] = grouped[ev.Tenant] // @group
		}
		sinkGroups = byTenant
	}
}

func newUserPrejoined(id int64, name, email string) *User {
	return &User{ID: id, Name: name, Email: email} // @user
}

//go:noinline
func signupPrejoined(n int) {
	for i := 0; i < n; i++ {
		for j := range names {
			sinkUser = newUserPrejoined(int64(j), names[j], emails[j])
		}
	}
}

func userByValue(id int64, name string) User {
	return User{ID: id, Name: name, Email: name + "@example.com"} // @user
}

//go:noinline
func signupByValue(n int) {
	for i := 0; i < n; i++ {
		for j := range names {
			userArr[j] = userByValue(int64(j), names[j])
		}
	}
}

//go:noinline
func logAccessPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range reqs {
			logger.Printf("access %v", reqsBoxed[j]) // @log
		}
	}
}

//go:noinline
func validateOrdersPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range items {
			it := &items[j]
			if it.Qty > 999 {
				sinkErr = newError("sku %s: bad quantity %d", skusBoxed[j], qtysBoxed[j]) // @validate
			}
		}
	}
}

func splitRecordInto(fields [][]byte, rec []byte, sep byte) [][]byte {
	fields = fields[:1+countByte(rec, sep)] // @split
	k, start := 0, 0
	for i, c := range rec {
		if c == sep {
			fields[k] = rec[start:i]
			k, start = k+1, i+1
		}
	}
	fields[k] = rec[start:]
	return fields
}

//go:noinline
func splitFieldsReused(n int) {
	for i := 0; i < n; i++ {
		for j := range records {
			sinkFields = splitRecordInto(fieldBuf, records[j], ',')
		}
	}
}

//go:noinline
func registerRoutesPrebound(n int) {
	for i := 0; i < n; i++ {
		for j := range apis {
			routeTable[j] = route{path: "/orders/{id}", h: bound[j]} // @route
		}
	}
}

//go:noinline
func observeLatencyPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range spans {
			_ = &spans[j]
			observe("latency_us", latBoxed[j]) // @observe
		}
	}
}

func (id OrderID) stringPreboxed(b any) string { return fmt.Sprintf("ord-%08d", b) } // @str

//go:noinline
func orderLabelsPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range orderIDs {
			labelRing[j] = orderIDs[j].stringPreboxed(orderBoxed[j])
		}
	}
}

//go:noinline
func writeWordsPreboxed(n int) {
	for i := 0; i < n; i++ {
		for k := 0; k < 64; k++ {
			fmt.Fprintf(out, "%s ", wordsBoxed[(k+i)%16]) // @words
		}
	}
}

//go:noinline
func countWordsPreconverted(n int) {
	for i := 0; i < n; i++ {
		counts := make(map[string]int)
		for j := range wordBytes {
			counts[wordStrs[j]]++ // @count
		}
		sinkCounts = counts
	}
}

//go:noinline
func countWordsHinted(n int) {
	for i := 0; i < n; i++ {
		counts := make(map[string]int, 256) // room to spare: no overflow buckets (Go 1.19)
		for _, w := range wordBytes {
			counts[string(w)]++ // @count
		}
		sinkCounts = counts
	}
}

//go:noinline
func csvLinesPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range rows {
			line := rows[j].name
			for _, v := range rowsBoxed[j] {
				line += fmt.Sprintf(",%d", v) // @csv
			}
			lineRing[j%64] = line
		}
	}
}

//go:noinline
func csvLinesNoConcat(n int) {
	for i := 0; i < n; i++ {
		for j := range rows {
			line := rows[j].name
			for _, v := range rows[j].vals {
				lastPart = fmt.Sprintf(",%d", v) // @csv
			}
			lineRing[j%64] = line
		}
	}
}

//go:noinline
func withRequestIDPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range reqIDs {
			sinkCtx = context.WithValue(baseCtx, ctxKey{}, reqIDsBoxed[j]) // @ctx
		}
	}
}

//go:noinline
func sortOrdersPreboxed(n int) {
	for i := 0; i < n; i++ {
		orders := orderBatch()
		sort.Slice(batchBoxed, func(a, b int) bool { return orders[a].At < orders[b].At }) // @sort
		sinkOrders = orders
	}
}

//go:noinline
func sortOrdersPlainFunc(n int) {
	for i := 0; i < n; i++ {
		orders := orderBatch()
		sort.Slice(orders, lessBatch) // @sort
		sinkOrders = orders
	}
}

func lessBatch(a, b int) bool { return batchBuf[a].At < batchBuf[b].At }

//go:noinline
func renderStatusPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range items {
			_ = &items[j]
			body, _ := json.Marshal(map[string]any{"sku": skusBoxed[j], "qty": qtysBoxed[j]}) // @status
			sinkBody2 = body
		}
	}
}

//go:noinline
func renderStatusReusedMap(n int) {
	for i := 0; i < n; i++ {
		for j := range items {
			it := &items[j]
			body, _ := json.Marshal(fillStatus(it.SKU, it.Qty)) // @status
			sinkBody2 = body
		}
	}
}

// fillStatus reuses one map; its arguments are boxed at the caller's line.
func fillStatus(sku, qty any) map[string]any {
	statusMap["sku"], statusMap["qty"] = sku, qty
	return statusMap
}
