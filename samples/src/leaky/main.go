// Program leaky: a small service with one planted goroutine leak of each kind
// heapdoc's goroutine analysis names (issue 19), a healthy bounded worker pool
// beside them, and the runtime's and net/http's own goroutines.
//
// Leaks, one per kind (each batch adds `per` goroutines of each):
//   - main.fetchUser: http.Get (DefaultClient, no Timeout, no context deadline)
//     to a server that accepts connections and never answers: blocks in the
//     HTTP round trip forever (created by main.serveUsers).
//   - main.watchSession: waits for <-ctx.Done() on context.Background(), a
//     context that can never be done (created by main.openSessions); each holds
//     32 KiB of session state, so the heap grows with the leak.
//   - main.sendResult: sends a result on an unbuffered channel whose receiver
//     (main.lookup) gave up after a timeout: the receiver is forgotten
//     (created by main.lookup).
//   - main.relay: a for/select loop over an input channel and a quit channel
//     that nobody closes, with no ctx.Done() case (created by main.startRelays).
//
// Not leaks: os/signal's loop goroutine (signal.Notify), main.blackhole's
// accept loop, main.main.
//
// Healthy: main.worker, 8 goroutines ranging over a jobs channel (created by
// main.startPool); stable across batches.
//
// Modes:
//
//	leaky -out DIR [-batches 2] [-per 10] [-wait 61s] [-quit-after K]
//	    runs batch 1, writes DIR/t1.* snapshots (proto, debug=1, debug=2, the
//	    heap profile as proto and debug=1, runtime.NumGoroutine in t1.json), waits, runs batch 2, writes t2.*.
//	    With -quit-after K it sends itself SIGQUIT after snapshot K (run it
//	    with GOTRACEBACK=all and stderr to a file for the crash-text format).
//	leaky -serve 127.0.0.1:0 [-interval 200ms] [-max 40]
//	    serves net/http/pprof on the address (printed on stdout as
//	    "listening on ADDR") and adds one batch every interval, up to max
//	    batches; exits after -lifetime.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

var (
	blackholeAddr string
	held          []net.Conn
	heldMu        sync.Mutex
	jobs          = make(chan int)
	jobsDone      sync.WaitGroup
	relayIn       = make(chan string)
	relayQuit     = make(chan struct{}) // never closed: the leak
	sink          [8]int64
)

// blackhole accepts connections and never answers them.
func blackhole(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		heldMu.Lock()
		held = append(held, c)
		heldMu.Unlock()
	}
}

//go:noinline
func fetchUser(id int) {
	// The leak: no http.Client.Timeout, no context deadline.
	resp, err := http.Get(fmt.Sprintf("http://%s/users/%d", blackholeAddr, id))
	if err == nil {
		resp.Body.Close()
	}
}

func serveUsers(n, first int) {
	for i := 0; i < n; i++ {
		go fetchUser(first + i)
	}
}

//go:noinline
func watchSession(ctx context.Context, id int) {
	// Session state that lives as long as the goroutine: the leak holds it.
	state := make([]byte, 32<<10)
	// The leak: ctx is context.Background(), whose Done channel is nil.
	<-ctx.Done()
	sink[id%len(sink)] += int64(state[id%len(state)])
}

func openSessions(n int) {
	for i := 0; i < n; i++ {
		go watchSession(context.Background(), i)
	}
}

//go:noinline
func sendResult(ch chan<- int, id int) {
	time.Sleep(20 * time.Millisecond) // a slow backend
	ch <- id * 2                      // the leak: the receiver is gone
}

//go:noinline
func lookup(id int) int {
	ch := make(chan int) // unbuffered: the sender blocks once lookup returns
	go sendResult(ch, id)
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Millisecond):
		return -1
	}
}

func lookupAll(n int) {
	for i := 0; i < n; i++ {
		lookup(i)
	}
}

//go:noinline
func relay(in <-chan string, quit <-chan struct{}) {
	for {
		// The leak: no ctx.Done() case, and quit is never closed.
		select {
		case m := <-in:
			sink[len(m)%len(sink)]++
		case <-quit:
			return
		}
	}
}

func startRelays(n int) {
	for i := 0; i < n; i++ {
		go relay(relayIn, relayQuit)
	}
}

//go:noinline
func worker(id int) {
	for j := range jobs {
		sink[id%len(sink)] += int64(j)
		jobsDone.Done()
	}
}

func startPool(n int) {
	for i := 0; i < n; i++ {
		go worker(i)
	}
}

func runPoolJobs(n int) {
	jobsDone.Add(n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	jobsDone.Wait()
}

var fetched int

func batch(per int) {
	serveUsers(per, fetched)
	fetched += per
	openSessions(per)
	lookupAll(per)
	startRelays(per)
	runPoolJobs(100)
	// Let every planted goroutine reach its blocking point (the senders sleep
	// 20 ms, the HTTP calls connect and write their request).
	time.Sleep(300 * time.Millisecond)
	// Go records when a parked goroutine started waiting at the next GC (gcMarkRoot's
	// scan sets waitsince), and debug=2 prints waits of a minute or more: a service
	// that allocates collects often; this one barely allocates, so collect here.
	runtime.GC()
}

func snapshot(dir, name string) {
	n := runtime.NumGoroutine()
	for _, f := range []struct {
		ext     string
		debug   int
		profile string
	}{{"pb.gz", 0, "goroutine"}, {"debug1.txt", 1, "goroutine"}, {"debug2.txt", 2, "goroutine"},
		{"heap.pb.gz", 0, "heap"}, {"heap.debug1.txt", 1, "heap"}} {
		out, err := os.Create(filepath.Join(dir, name+"."+f.ext))
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(f.profile).WriteTo(out, f.debug); err != nil {
			panic(err)
		}
		out.Close()
	}
	meta, _ := json.MarshalIndent(map[string]any{
		"num_goroutine": n,
		"unix_nano":     time.Now().UnixNano(),
	}, "", " ")
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(meta, '\n'), 0o644); err != nil {
		panic(err)
	}
}

func main() {
	out := flag.String("out", "", "directory for the snapshots")
	batches := flag.Int("batches", 2, "batches (and snapshots)")
	per := flag.Int("per", 10, "goroutines of each leak per batch")
	wait := flag.Duration("wait", 61*time.Second, "time between batches")
	quitAfter := flag.Int("quit-after", 0, "SIGQUIT itself after this snapshot")
	serve := flag.String("serve", "", "serve net/http/pprof on this address")
	interval := flag.Duration("interval", 200*time.Millisecond, "with -serve: time between batches")
	max := flag.Int("max", 40, "with -serve: batches at most")
	lifetime := flag.Duration("lifetime", 60*time.Second, "with -serve: exit after this long")
	flag.Parse()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	blackholeAddr = ln.Addr().String()
	// A service's usual SIGHUP handler: os/signal starts its own goroutine
	// (os/signal.loop), which is the runtime's, not a leak.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go blackhole(ln)
	startPool(8)

	if *serve != "" {
		pl, err := net.Listen("tcp", *serve)
		if err != nil {
			panic(err)
		}
		fmt.Printf("listening on %s\n", pl.Addr())
		go http.Serve(pl, nil)
		stop := time.After(*lifetime)
		tick := time.NewTicker(*interval)
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
				if i < *max {
					batch(*per)
					i++
				}
			}
		}
	}

	for b := 1; b <= *batches; b++ {
		if b > 1 {
			time.Sleep(*wait)
		}
		batch(*per)
		snapshot(*out, fmt.Sprintf("t%d", b))
		if b == *quitAfter {
			syscall.Kill(os.Getpid(), syscall.SIGQUIT)
			time.Sleep(10 * time.Second)
		}
	}
}
