// Program mixed: code written the way services are written, where one line
// allocates in two or three ways at once (boxed arguments + a formatted
// string + slice growth, map growth + slice growth, a pointer escape + a
// concatenation, ...). Unlike the other samples, a workload here does NOT
// have a single cause: samples/truth/mixed/ has the true cause of every byte,
// per site and object size, measured by running variants of each line with
// one mechanism removed (variants.go, measure.go; see
// samples/truth/mixed/README.md).
//
// The line under test carries a trailing `// @tag` comment; the variants'
// copies of that line carry the same tag. Do not move lines in this file
// without regenerating (`samples/generate.sh mixed`): the profiles and the
// truth files name them by line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"sort"

	"heapdoc.dev/samples/internal/harness"
)

// ---- domain types ---------------------------------------------------------

type User struct {
	ID    int64
	Name  string
	Email string
}

type account struct {
	ID     int64
	Region string
}

type Event struct {
	Tenant string
	Kind   string
	At     int64
}

type accessEntry struct {
	Method string
	Path   string
	Status int
	Bytes  int64
}

type Item struct {
	SKU string
	Qty int
}

type appError struct{ msg string }

func (e *appError) Error() string { return e.msg }

// newError is the in-house errors.New/fmt.Errorf-style helper every service has.
func newError(format string, args ...any) error {
	return &appError{msg: fmt.Sprintf(format, args...)}
}

type OrderID uint64

func (id OrderID) String() string { return fmt.Sprintf("ord-%08d", uint64(id)) } // @str

type orderAPI struct{ hits int }

func (a *orderAPI) getOrder(w io.Writer, id string) { a.hits++ }

type route struct {
	path string
	h    func(io.Writer, string)
}

type span struct{ Start, End int64 }

type csvRow struct {
	name string
	vals []int
}

type ctxKey struct{}

// discard is not io.Discard on purpose: since Go 1.21 a log.Logger writing
// to io.Discard skips formatting entirely.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// ---- input data (built in setup) and sinks --------------------------------

var (
	users      []account
	events     []Event
	names      []string
	reqs       []accessEntry
	items      []Item
	records    [][]byte
	apis       []*orderAPI
	spans      []span
	orderIDs   []OrderID
	words      []string
	wordBytes  [][]byte
	rows       []csvRow
	reqIDs     []string
	logger     *log.Logger
	out        io.Writer = discard{}
	baseCtx              = context.Background()
	metricRing [64]any
	metricNext int

	sinkKeys   []string
	sinkGroups map[string][]Event
	sinkUser   *User
	sinkErr    error
	sinkFields [][]byte
	sinkCounts map[string]int
	sinkCtx    context.Context
	routeTable [64]route
	labelRing  [64]string
	lineRing   [64]string
	sinkOrders []Event
	sinkBody2  []byte
	batchBuf   = make([]Event, 64)
)

var tenants = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark",
	"wayne", "wonka", "tyrell", "cyberdyne", "soylent", "vandelay"}

func setup() {
	logger = log.New(discard{}, "", 0)
	for i := 0; i < 64; i++ {
		region := []string{"eu-west-1", "us-east-2", "ap-south-1"}[i%3]
		users = append(users, account{ID: int64(100000 + 7919*i), Region: region})
		events = append(events, Event{Tenant: tenants[(i*7)%len(tenants)], Kind: "order.created", At: int64(1700000000 + i)})
		// names of 3..38 bytes: name+"@example.com" spans tiny (<16 B) to 48-byte strings
		names = append(names, "customer.with.a.long.name"[:3+i%23]+fmt.Sprint(i%10)+"abcdefghij"[:i%11])
		reqs = append(reqs, accessEntry{Method: "GET", Path: fmt.Sprint("/api/orders/", i), Status: 200 + i%3, Bytes: int64(512 + i)})
		items = append(items, Item{SKU: fmt.Sprint("SKU-", 4000+i), Qty: 1000 + i})
		records = append(records, []byte("2024-05-01,order,"+fmt.Sprint(i)+",paid"+",x,y,z,w"[:2*(i%4)]))
		apis = append(apis, &orderAPI{})
		spans = append(spans, span{Start: int64(1e9 + i), End: int64(1e9 + 5000 + 37*i)})
		orderIDs = append(orderIDs, OrderID(7000000+i*13))
		reqIDs = append(reqIDs, fmt.Sprintf("req-%016x", i*2654435761))
	}
	for i := 0; i < 16; i++ {
		words = append(words, "lorem ipsum dolor sit amet consectetur adipiscing elit"[i*3:i*3+2+i%5])
	}
	for i := 0; i < 64; i++ {
		wordBytes = append(wordBytes, []byte(fmt.Sprint("w", (i*5)%24, "-token")))
	}
	for i := 0; i < 16; i++ {
		r := csvRow{name: fmt.Sprintf("report-row-%04d", i)} // every line+"...": >= 22 bytes, never tiny
		for k := 0; k < 6+i%4; k++ {
			r.vals = append(r.vals, 100000+i*1000+k*37)
		}
		rows = append(rows, r)
	}
	setupVariants()
}

// ---- workloads: one mixed line each (tagged), called in loops -------------

// listKeys: boxed arguments (fmt), the formatted string (inside fmt.Sprintf)
// and the growth of keys, all on one line.
//
//go:noinline
func listKeys(n int) {
	for i := 0; i < n; i++ {
		var keys []string
		for j := range users {
			u := &users[j]
			keys = append(keys, fmt.Sprintf("user:%d:%s", u.ID, u.Region)) // @keys
		}
		sinkKeys = keys
	}
}

// groupByTenant: map growth (new keys) and slice growth (per key).
//
//go:noinline
func groupByTenant(n int) {
	for i := 0; i < n; i++ {
		byTenant := make(map[string][]Event)
		for j := range events {
			ev := events[j]
			byTenant[ev.Tenant] = append(byTenant[ev.Tenant], ev) // @group
		}
		sinkGroups = byTenant
	}
}

// newUser: the struct escapes (returned pointer) and the email is a concatenation.
func newUser(id int64, name string) *User {
	return &User{ID: id, Name: name, Email: name + "@example.com"} // @user
}

//go:noinline
func signup(n int) {
	for i := 0; i < n; i++ {
		for j := range names {
			sinkUser = newUser(int64(j), names[j])
		}
	}
}

// logAccess: a struct value boxed into log.Printf's ...any.
//
//go:noinline
func logAccess(n int) {
	for i := 0; i < n; i++ {
		for j := range reqs {
			logger.Printf("access %v", reqs[j]) // @log
		}
	}
}

// validateOrders: a string and an int boxed into the in-house newError helper.
//
//go:noinline
func validateOrders(n int) {
	for i := 0; i < n; i++ {
		for j := range items {
			it := &items[j]
			if it.Qty > 999 {
				sinkErr = newError("sku %s: bad quantity %d", it.SKU, it.Qty) // @validate
			}
		}
	}
}

// splitRecord: make with arithmetic in its length (not string building).
func splitRecord(rec []byte, sep byte) [][]byte {
	fields := make([][]byte, 1+countByte(rec, sep)) // @split
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

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

//go:noinline
func splitFields(n int) {
	for i := 0; i < n; i++ {
		for j := range records {
			sinkFields = splitRecord(records[j], ',')
		}
	}
}

// registerRoutes: a method value bound to its receiver escapes.
//
//go:noinline
func registerRoutes(n int) {
	for i := 0; i < n; i++ {
		for j := range apis {
			routeTable[j] = route{path: "/orders/{id}", h: apis[j].getOrder} // @route
		}
	}
}

// observe is an in-house metrics helper taking any.
func observe(name string, v any) {
	metricRing[metricNext&63] = v
	metricNext++
}

// observeLatency: an int64 sum boxed into observe's any parameter.
//
//go:noinline
func observeLatency(n int) {
	for i := 0; i < n; i++ {
		for j := range spans {
			s := &spans[j]
			observe("latency_us", s.End-s.Start) // @observe
		}
	}
}

// orderLabels: a one-line String method that calls fmt.Sprintf.
//
//go:noinline
func orderLabels(n int) {
	for i := 0; i < n; i++ {
		for j := range orderIDs {
			labelRing[j] = orderIDs[j].String()
		}
	}
}

// writeWords: an index expression boxed into fmt.Fprintf's ...any.
//
//go:noinline
func writeWords(n int) {
	for i := 0; i < n; i++ {
		for k := 0; k < 64; k++ {
			fmt.Fprintf(out, "%s ", words[(k+i)%16]) // @words
		}
	}
}

// countWords: the []byte->string conversion of a new key and map growth.
//
//go:noinline
func countWords(n int) {
	for i := 0; i < n; i++ {
		counts := make(map[string]int)
		for _, w := range wordBytes {
			counts[string(w)]++ // @count
		}
		sinkCounts = counts
	}
}

// csvLines: line += fmt.Sprintf(...): boxing (fmt), the formatted string
// (inside fmt) and the concatenation.
//
//go:noinline
func csvLines(n int) {
	for i := 0; i < n; i++ {
		for j := range rows {
			line := rows[j].name
			for _, v := range rows[j].vals {
				line += fmt.Sprintf(",%d", v) // @csv
			}
			lineRing[j%64] = line
		}
	}
}

// withRequestID: a string boxed into context.WithValue's any parameter, and
// the context itself (inside package context).
//
//go:noinline
func withRequestID(n int) {
	for i := 0; i < n; i++ {
		for j := range reqIDs {
			sinkCtx = context.WithValue(baseCtx, ctxKey{}, reqIDs[j]) // @ctx
		}
	}
}

// sortOrders: sort.Slice boxes the slice into its any parameter and builds a
// reflection-based swapper; the less func literal captures orders.
//
//go:noinline
func sortOrders(n int) {
	for i := 0; i < n; i++ {
		orders := orderBatch()
		sort.Slice(orders, func(a, b int) bool { return orders[a].At < orders[b].At }) // @sort
		sinkOrders = orders
	}
}

// orderBatch copies the batch into the reused buffer (no allocation).
func orderBatch() []Event {
	return batchBuf[:copy(batchBuf, events)]
}

// renderStatus: json.Marshal of a map literal of any: the map, the boxed
// values and the encoder's work, on one line.
//
//go:noinline
func renderStatus(n int) {
	for i := 0; i < n; i++ {
		for j := range items {
			it := &items[j]
			body, _ := json.Marshal(map[string]any{"sku": it.SKU, "qty": it.Qty}) // @status
			sinkBody2 = body
		}
	}
}

func main() {
	if maybeMeasure() {
		return
	}
	harness.Main("mixed", setup, workloads())
}
