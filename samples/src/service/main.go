// Program service: a small JSON order API served by net/http, with
// net/http/pprof mounted, combining several allocation causes in one handler
// chain. Each step of the chain is its own //go:noinline function so that
// every allocation made with a step on the stack has the step's single cause:
//
//	main.logRequest         log.Printf("%v") of the URL and headers   logging
//	main.requestDeadline    context.WithTimeout per request           context-and-timers
//	main.readBody           io.ReadAll of the request body            io-buffers
//	main.decodeIntoMap      json.Unmarshal into map[string]any        json   (default)
//	main.decodeIntoStruct   json.Unmarshal into a struct              json   (-fixed)
//	main.renderSummary      fmt.Sprintf of the summary                fmt
//	main.marshalResponse    json.Marshal of the response              json
//	main.compressResponse   a new gzip.Writer per response            compression
//
// main.handleOrder (not a workload) allocates the per-request state.
//
// Modes:
//
//	(default)      serve on 127.0.0.1:0 and drive -requests requests over
//	               loopback HTTP; write profiles to -out (see README.md)
//	-fixed         the same, with JSON decoded into a struct instead of a map
//	-serve ADDR    run as a long-lived server on ADDR with /debug/pprof and a
//	               bounded background load generator (loopback only)
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	_ "heapdoc.dev/samples/internal/rate"
)

type Item struct {
	SKU      string  `json:"sku"`
	Quantity int     `json:"quantity"`
	Price    float64 `json:"price"`
}

type Order struct {
	ID       string            `json:"id"`
	Customer string            `json:"customer"`
	Items    []Item            `json:"items"`
	Meta     map[string]string `json:"meta"`
}

type summary struct {
	ID       string
	Customer string
	Items    int
}

type response struct {
	OK      bool    `json:"ok"`
	ID      string  `json:"id"`
	Summary string  `json:"summary"`
	Total   float64 `json:"total"`
}

// reqState is allocated once per request by handleOrder.
type reqState struct {
	m    map[string]interface{}
	ord  Order
	sum  summary
	resp response
}

var (
	fixed   = flag.Bool("fixed", false, "decode JSON into a struct instead of map[string]interface{}")
	logger  = log.New(discard{}, "orders ", log.LstdFlags)
	timeout = 2 * time.Second
)

// discard is not io.Discard on purpose: since Go 1.21 a log.Logger writing
// to io.Discard skips formatting entirely.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

//go:noinline
func logRequest(r *http.Request) {
	logger.Printf("request %v headers=%v", r.URL, r.Header)
}

//go:noinline
func requestDeadline(r *http.Request) context.CancelFunc {
	_, cancel := context.WithTimeout(r.Context(), timeout)
	return cancel
}

//go:noinline
func readBody(r *http.Request) []byte {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil
	}
	return b
}

//go:noinline
func decodeIntoMap(body []byte, st *reqState) bool {
	if err := json.Unmarshal(body, &st.m); err != nil {
		return false
	}
	st.sum.ID, _ = st.m["id"].(string)
	st.sum.Customer, _ = st.m["customer"].(string)
	items, _ := st.m["items"].([]interface{})
	st.sum.Items = len(items)
	for _, it := range items {
		if im, ok := it.(map[string]interface{}); ok {
			q, _ := im["quantity"].(float64)
			p, _ := im["price"].(float64)
			st.resp.Total += q * p
		}
	}
	return true
}

//go:noinline
func decodeIntoStruct(body []byte, st *reqState) bool {
	if err := json.Unmarshal(body, &st.ord); err != nil {
		return false
	}
	st.sum.ID = st.ord.ID
	st.sum.Customer = st.ord.Customer
	st.sum.Items = len(st.ord.Items)
	for _, it := range st.ord.Items {
		st.resp.Total += float64(it.Quantity) * it.Price
	}
	return true
}

//go:noinline
func renderSummary(st *reqState) {
	st.resp.Summary = fmt.Sprintf("order summary %v", &st.sum)
}

//go:noinline
func marshalResponse(st *reqState) []byte {
	b, err := json.Marshal(&st.resp)
	if err != nil {
		return nil
	}
	return b
}

//go:noinline
func compressResponse(w http.ResponseWriter, b []byte) {
	zw := gzip.NewWriter(w)
	zw.Write(b)
	zw.Close()
}

func handleOrder(w http.ResponseWriter, r *http.Request) {
	logRequest(r)
	cancel := requestDeadline(r)
	defer cancel()
	body := readBody(r)
	st := &reqState{}
	var ok bool
	if *fixed {
		ok = decodeIntoStruct(body, st)
	} else {
		ok = decodeIntoMap(body, st)
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	renderSummary(st)
	st.resp.OK = true
	st.resp.ID = st.sum.ID
	out := marshalResponse(st)
	h := w.Header()
	h["Content-Type"] = jsonCT
	h["Content-Encoding"] = gzipCE
	compressResponse(w, out)
}

var (
	jsonCT = []string{"application/json"}
	gzipCE = []string{"gzip"}
)

// ---- load generation (not part of the measured causes) ----

func makeBodies() [][]byte {
	var bodies [][]byte
	for i := 0; i < 32; i++ {
		o := Order{ID: "ord-" + strconv.Itoa(100000+i), Customer: "customer-" + strconv.Itoa(i) + "@example.com",
			Meta: map[string]string{"source": "mobile", "campaign": "spring-" + strconv.Itoa(i%4)}}
		for j := 0; j < 4+i%8; j++ {
			o.Items = append(o.Items, Item{SKU: "sku-" + strconv.Itoa(i*100+j), Quantity: 1 + j%3, Price: 4.5 + float64(j)})
		}
		b, _ := json.Marshal(&o)
		bodies = append(bodies, b)
	}
	return bodies
}

type driver struct {
	url    string
	client *http.Client
	bodies [][]byte
	served int64
	mu     sync.Mutex
}

func newDriver(addr string) *driver {
	return &driver{
		url:    "http://" + addr + "/api/orders",
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}},
		bodies: makeBodies(),
	}
}

func (d *driver) one(i int) error {
	resp, err := d.client.Post(d.url+"?n="+strconv.Itoa(i), "application/json", bytes.NewReader(d.bodies[i%len(d.bodies)]))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	d.mu.Lock()
	d.served++
	d.mu.Unlock()
	return nil
}

func (d *driver) run(n int) {
	for i := 0; i < n; i++ {
		if err := d.one(i); err != nil {
			fatal(err)
		}
	}
}

func listen(addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err)
	}
	http.HandleFunc("/api/orders", handleOrder)
	go http.Serve(ln, nil)
	return ln
}

// loopbackAddr returns the address the load generator uses: always loopback.
func loopbackAddr(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort("127.0.0.1", port)
}

type memstatsOut struct {
	Program        string `json:"program"`
	Fixed          bool   `json:"fixed"`
	GoVersion      string `json:"go_version"`
	MemProfileRate int    `json:"memprofilerate"`
	Warmup         int    `json:"warmup_requests"`
	Requests       int64  `json:"requests"`
	TotalAlloc     uint64 `json:"total_alloc_delta"`
	Mallocs        uint64 `json:"mallocs_delta"`
	BytesPerReq    uint64 `json:"bytes_per_request"`
	MallocsPerReq  uint64 `json:"mallocs_per_request"`
	WindowNS       int64  `json:"window_ns"`
	WindowStart    string `json:"window_start_profile"`
	WindowEnd      string `json:"window_end_profile"`
	WindowCPU      string `json:"window_cpu_profile"`
	Note           string `json:"note"`
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

func fetch(url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		fatal(fmt.Errorf("GET %s: %s: %s", url, resp.Status, b))
	}
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		fatal(err)
	}
	if err := f.Close(); err != nil {
		fatal(err)
	}
}

func main() {
	rate := runtime.MemProfileRate
	out := flag.String("out", ".", "output directory")
	requests := flag.Int("requests", 400, "requests in the measured window")
	warmup := flag.Int("warmup", 50, "requests before the measured window")
	serve := flag.String("serve", "", "run as a long-lived server on this address (e.g. 127.0.0.1:6060)")
	rps := flag.Int("load-rps", 50, "-serve: background load, requests per second (0: none)")
	maxReq := flag.Int("load-max", 100000, "-serve: stop the background load after this many requests")
	fetchSecs := flag.Int("fetch-seconds", 2, "default mode: seconds= of the /debug/pprof delta fetches (0: skip)")
	flag.Parse()

	if *serve != "" {
		ln := listen(*serve)
		fmt.Fprintf(os.Stderr, "service: listening on http://%s (pprof at /debug/pprof/)\n", ln.Addr())
		if *rps > 0 {
			d := newDriver(loopbackAddr(ln))
			tick := time.NewTicker(time.Second / time.Duration(*rps))
			for i := 0; i < *maxReq; i++ {
				<-tick.C
				if err := d.one(i); err != nil {
					fmt.Fprintln(os.Stderr, "service: load:", err)
				}
			}
			tick.Stop()
			fmt.Fprintf(os.Stderr, "service: load generator done after %d requests\n", *maxReq)
		}
		select {}
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatal(err)
	}
	prog := "service"
	if *fixed {
		prog = "service-fixed"
	}
	label := "default"
	if rate == 1 {
		label = "rate1"
	}
	base := filepath.Join(*out, prog)
	ln := listen("127.0.0.1:0")
	d := newDriver(loopbackAddr(ln))
	d.run(*warmup)
	d.served = 0

	ms := memstatsOut{Program: prog, Fixed: *fixed, GoVersion: runtime.Version(), MemProfileRate: rate, Warmup: *warmup,
		Note: "whole process (HTTP client and server) over the window; window profiles are allocs snapshots at start and end (after runtime.GC) and a CPU profile over the same requests"}
	var m0, m1 runtime.MemStats
	runtime.GC()
	if label == "default" {
		ms.WindowStart = prog + ".allocs.window-start.pb.gz"
		ms.WindowEnd = prog + ".allocs.window-end.pb.gz"
		ms.WindowCPU = prog + ".cpu.window.pb.gz"
		writeProfile("allocs", 0, filepath.Join(*out, ms.WindowStart))
		runtime.GC()
	}
	var cpuf *os.File
	if label == "default" {
		var err error
		if cpuf, err = os.Create(filepath.Join(*out, ms.WindowCPU)); err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(cpuf); err != nil {
			fatal(err)
		}
	}
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	d.run(*requests)
	ms.WindowNS = int64(time.Since(t0))
	runtime.ReadMemStats(&m1)
	if cpuf != nil {
		pprof.StopCPUProfile()
		cpuf.Close()
	}
	ms.Requests = d.served
	ms.TotalAlloc = m1.TotalAlloc - m0.TotalAlloc
	ms.Mallocs = m1.Mallocs - m0.Mallocs
	ms.BytesPerReq = ms.TotalAlloc / uint64(ms.Requests)
	ms.MallocsPerReq = ms.Mallocs / uint64(ms.Requests)
	runtime.GC()
	if label == "default" {
		writeProfile("allocs", 0, filepath.Join(*out, ms.WindowEnd))
	} else {
		ms.Note = "whole process (HTTP client and server) over the window of -requests requests"
	}
	writeProfile("heap", 0, base+".heap."+label+".pb.gz")
	writeProfile("allocs", 0, base+".allocs."+label+".pb.gz")
	writeProfile("heap", 1, base+".heap."+label+".debug1.txt")
	b, _ := json.MarshalIndent(&ms, "", "  ")
	if err := os.WriteFile(base+"."+label+".memstats.json", append(b, '\n'), 0o644); err != nil {
		fatal(err)
	}

	// What a fetch from a live server returns: delta profiles over
	// ?seconds=N from net/http/pprof, while a bounded load runs.
	if label == "default" && !*fixed && *fetchSecs > 0 {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					d.one(i)
				}
			}
		}()
		secs := strconv.Itoa(*fetchSecs)
		host := "http://" + loopbackAddr(ln)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			fetch(host+"/debug/pprof/allocs?seconds="+secs, base+".allocs.fetch-delta.pb.gz")
		}()
		go func() {
			defer wg.Done()
			fetch(host+"/debug/pprof/profile?seconds="+secs, base+".cpu.fetch.pb.gz")
		}()
		wg.Wait()
		close(stop)
		<-done
		fetch(host+"/debug/pprof/heap?gc=1", base+".heap.fetch.pb.gz")
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "service:", err)
	os.Exit(1)
}
