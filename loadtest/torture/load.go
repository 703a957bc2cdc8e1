//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// result is one request a load run made.
type result struct {
	start, end time.Time
	// status is the response status, 0 when there was none.
	status int
	// err says why there was no response.
	err string
	// closing reports that the response carried Connection: close.
	closing bool
	// backend is the X-Backend header: which backend answered.
	backend string
}

// failed reports whether r counts as a client-visible error.
func (r result) failed() bool { return r.status < 200 || r.status > 299 }

// tally sums up a load run.
type tally struct {
	requests, ok, non2xx, errors int64
	// samples are the first few failures, for explaining a verdict.
	samples []string
}

// maxSamples bounds tally.samples.
const maxSamples = 5

func (t *tally) add(r result) {
	t.requests++
	switch {
	case r.status == 0:
		t.errors++
	case r.failed():
		t.non2xx++
	default:
		t.ok++
	}
	if r.failed() && len(t.samples) < maxSamples {
		s := fmt.Sprintf("status %d", r.status)
		if r.status == 0 {
			s = r.err
		}
		t.samples = append(t.samples, s)
	}
}

// failures is every request that did not get a 2xx.
func (t tally) failures() int64 { return t.non2xx + t.errors }

// loader is a load run in progress.
type loader interface {
	// stop ends the run, waits for it, and sums it up.
	stop() tally
}

// loadOpts describes a load run of the built-in generator.
type loadOpts struct {
	url   string
	conns int
	// timeout bounds each request.
	timeout time.Duration
	// keep keeps every result, not only the tally.
	keep bool
}

// goLoad is the built-in load generator: conns workers, each sending GETs
// one after another over keep-alive connections, the way wrk does.
type goLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	keep   bool
	// stopAt, when not 0, is the UnixNano time after which workers start
	// no new request; written by setStopAt.
	stopAt atomic.Int64
	mu     sync.Mutex
	t      tally    // written under mu
	all    []result // written under mu, when keep
}

// startLoad starts the generator; it runs until stop or ctx ends.
func startLoad(ctx context.Context, o loadOpts) *goLoad {
	ctx, cancel := context.WithCancel(ctx)
	tr := &http.Transport{
		MaxIdleConnsPerHost: o.conns,
		MaxConnsPerHost:     o.conns,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	l := &goLoad{cancel: cancel, keep: o.keep}
	for range o.conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil && l.starting() {
				r := get(ctx, client, o.url)
				if ctx.Err() != nil {
					return // cut short by stop: not the proxy's doing
				}
				l.record(r)
			}
		}()
	}
	go func() {
		l.wg.Wait()
		tr.CloseIdleConnections()
	}()
	return l
}

// setStopAt makes the workers start no request after t; those in flight
// finish and are counted. Safe to call while the load runs.
func (l *goLoad) setStopAt(t time.Time) { l.stopAt.Store(t.UnixNano()) }

func (l *goLoad) starting() bool {
	at := l.stopAt.Load()
	return at == 0 || time.Now().UnixNano() < at
}

func (l *goLoad) record(r result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.add(r)
	if l.keep {
		l.all = append(l.all, r)
	}
}

func (l *goLoad) stop() tally {
	l.cancel()
	l.wg.Wait()
	return l.snapshot()
}

// snapshot is the tally so far; the run goes on.
func (l *goLoad) snapshot() tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.t
	t.samples = append([]string(nil), l.t.samples...)
	return t
}

// results is every result kept so far (keep must be set).
func (l *goLoad) results() []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.all...)
}

// get sends one GET and reads the whole answer.
func get(ctx context.Context, client *http.Client, url string) result {
	r := result{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.err, r.end = err.Error(), time.Now()
		return r
	}
	resp, err := client.Do(req)
	if err != nil {
		r.err, r.end = err.Error(), time.Now()
		return r
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.end = time.Now()
	if err != nil {
		r.err = "read body: " + err.Error()
		return r
	}
	r.status, r.closing, r.backend = resp.StatusCode, resp.Close, resp.Header.Get("X-Backend")
	return r
}

// startLoader starts conns clients on url: wrk when the run has it, else
// the built-in generator.
func (r *run) startLoader(url string, conns int) (loader, error) {
	if r.wrkBin != "" {
		return r.startWrk(url, conns)
	}
	return startLoad(r.ctx, loadOpts{url: url, conns: conns, timeout: 5 * time.Second}), nil
}
