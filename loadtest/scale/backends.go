package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/loadtest/fakebackend"
)

// healthPath is the probe endpoint written into every config; the fake
// backend answers GET on it with 200.
const healthPath = "/health"

// backendCount is how many backends every route lists, as issue 11 states.
const backendCount = 4

// probeReading is what one backend has seen of probes so far.
type probeReading struct {
	count uint64
	// last is when the latest probe arrived; zero before the first.
	last time.Time
}

// probeCounter wraps a fake backend and counts the GET requests for
// healthPath that reach it, from whichever proxy sends them.
type probeCounter struct {
	next http.Handler
	mu   sync.Mutex
	// seen is written by every serving goroutine; guarded by mu, so a
	// reading's count and time belong together.
	seen probeReading
}

// ServeHTTP counts a probe, then lets the fake backend answer.
func (c *probeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == healthPath {
		now := time.Now()
		c.mu.Lock()
		c.seen.count++
		c.seen.last = now
		c.mu.Unlock()
	}
	c.next.ServeHTTP(w, r)
}

func (c *probeCounter) read() probeReading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}

// backend is one fake backend the tool serves in its own process.
type backend struct {
	addr    string // "127.0.0.1:PORT"
	counter *probeCounter
	srv     *http.Server
	served  chan error // receives Serve's result once
}

// serveErrors counts what the backends' servers log: accept errors (out
// of file descriptors, when a proxy opens tens of thousands of probe
// connections at once) and broken connections. Each one means the proxy
// met a backend that was itself in trouble, so the numbers measured
// meanwhile are not the proxy's alone.
type serveErrors struct {
	// count is written by the servers' goroutines.
	count atomic.Uint64
	mu    sync.Mutex
	first string // the first line logged; guarded by mu
}

// Write takes one log line of a server.
func (s *serveErrors) Write(p []byte) (int, error) {
	if s.count.Add(1) == 1 {
		s.mu.Lock()
		s.first = strings.TrimSpace(string(p))
		s.mu.Unlock()
	}
	return len(p), nil
}

// firstLine is the first line logged, or "".
func (s *serveErrors) firstLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// backendSet is the backends every proxy under test is pointed at, and
// what their servers logged.
type backendSet struct {
	list   []*backend
	errors *serveErrors
}

// startBackends serves n fake backends on free loopback ports. On error it
// closes the ones already started.
func startBackends(n int) (backendSet, error) {
	bs := backendSet{errors: &serveErrors{}}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			bs.close()
			return backendSet{}, fmt.Errorf("start backend %d: %w", i, err)
		}
		srv := fakebackend.NewServer(fakebackend.Options{Name: fmt.Sprintf("scale-%d", i)})
		c := &probeCounter{next: srv.Handler}
		srv.Handler = c
		srv.ErrorLog = log.New(bs.errors, "", 0)
		b := &backend{addr: ln.Addr().String(), counter: c, srv: srv, served: make(chan error, 1)}
		go func() { b.served <- srv.Serve(ln) }()
		bs.list = append(bs.list, b)
	}
	return bs, nil
}

// addrs are the backends' "127.0.0.1:PORT" addresses, in order.
func (bs backendSet) addrs() []string {
	out := make([]string, len(bs.list))
	for i, b := range bs.list {
		out[i] = b.addr
	}
	return out
}

// probes reads what every backend has seen of probes, in order.
func (bs backendSet) probes() []probeReading {
	out := make([]probeReading, len(bs.list))
	for i, b := range bs.list {
		out[i] = b.counter.read()
	}
	return out
}

// close shuts every backend down, waiting at most a few seconds for
// requests in flight, and returns once each Serve has returned.
func (bs backendSet) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var errs []error
	for _, b := range bs.list {
		if err := b.srv.Shutdown(ctx); err != nil {
			b.srv.Close()
		}
		if err := <-b.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("backend %s: %w", b.addr, err))
		}
	}
	return errors.Join(errs...)
}

// probeRate is the probes per interval one backend received over a
// window from start to end, given readings taken at its two ends.
//
// It divides the probes that arrived in the window by the time from the
// last probe before the window to the last one in it, not by the window's
// length: with one prober per backend, a window of three intervals holds
// two, three or four probes depending on where their phase falls, and
// whole-window counting would report 0.67 to 1.33 for a steady 1. When
// the probe before the window, or the last one in it, is more than
// stallAfter intervals from that end of the window, probing stalled or
// had not begun: the window's end is used instead, so a stall shows as a
// lower rate. The margin keeps a probe that is a few milliseconds late
// from being taken for a stall.
func probeRate(before, after probeReading, start, end time.Time, interval time.Duration) float64 {
	n := after.count - before.count
	if n == 0 {
		return 0
	}
	stall := time.Duration(stallAfter * float64(interval))
	from, to := before.last, after.last
	if from.IsZero() || start.Sub(from) > stall {
		from = start
	}
	if end.Sub(to) > stall {
		to = end
	}
	if to.Sub(from) <= 0 {
		return 0
	}
	return float64(n) * float64(interval) / float64(to.Sub(from))
}

// stallAfter is how many intervals without a probe probeRate takes for a
// stall.
const stallAfter = 1.5

// probeRates is probeRate for every backend.
func probeRates(before, after []probeReading, start, end time.Time, interval time.Duration) []float64 {
	out := make([]float64, len(after))
	for i := range after {
		out[i] = probeRate(before[i], after[i], start, end, interval)
	}
	return out
}
