package actors

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/proxyconf"
)

// TestFirstProbesSpread: the first probes of many backends are spread over
// a short window (at most a quarter second, and within one interval), not
// fired in one burst.
func TestFirstProbesSpread(t *testing.T) {
	for _, interval := range []time.Duration{10 * time.Second, 100 * time.Millisecond} {
		h := testHealth()
		h.Interval = interval
		seen := map[time.Duration]bool{}
		const n = 200
		for i := range n {
			p := NewProber(NewBackend(fmt.Sprintf("http://10.0.0.%d:80", i), h, quiet), nil)
			if p.firstDelay < 0 || p.firstDelay >= min(interval, maxFirstSpread) {
				t.Fatalf("interval %v: first probe after %v, want within [0, %v)", interval, p.firstDelay, min(interval, maxFirstSpread))
			}
			seen[p.firstDelay] = true
		}
		if len(seen) < n*9/10 {
			t.Errorf("interval %v: %d backends got only %d distinct first-probe delays", interval, n, len(seen))
		}
	}
}

// probeTarget runs a backend actor and its prober against handler and
// returns the actor; everything stops when the test ends.
func probeTarget(t *testing.T, h proxyconf.Health, handler http.HandlerFunc) *Backend {
	t.Helper()
	srv := httptest.NewServer(handler)
	client := NewProbeClient()
	b := NewBackend(srv.URL, h, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = b.Run(ctx); done <- struct{}{} }()
	go func() { _ = NewProber(b, client).Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		client.CloseIdleConnections()
		srv.Close()
	})
	return b
}

func waitProbes(t *testing.T, b *Backend, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Snapshot().ProbesDone < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d probes done after 10s", b.Snapshot().ProbesDone, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowTransport answers every probe after delay (on the bubble's clock),
// recording when each began and how many were in flight at once.
type slowTransport struct {
	delay  time.Duration
	now    atomic.Int32
	most   atomic.Int32
	starts chan time.Time
}

func (s *slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	s.starts <- time.Now()
	time.Sleep(s.delay)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

// TestProbeSchedule: the next probe starts one interval after the last one
// started, or right after it ended when it took longer than that; there is
// never more than one in flight.
func TestProbeSchedule(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		delay    time.Duration
		want     time.Duration // between the starts of two probes
	}{
		{"fast backend: one interval apart", 100 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond},
		{"slow backend: back to back, no overlap", 10 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := testHealth()
				h.Interval, h.Timeout = c.interval, time.Second
				tr := &slowTransport{delay: c.delay, starts: make(chan time.Time, 16)}
				b := NewBackend("http://127.0.0.1:9", h, quiet)
				defer run(t, b)()
				defer run(t, NewProber(b, &http.Client{Transport: tr}))()
				prev := <-tr.starts
				for i := range 5 {
					next := <-tr.starts
					if d := next.Sub(prev); d != c.want {
						t.Fatalf("probe %d started %v after the one before, want %v", i+2, d, c.want)
					}
					prev = next
				}
				if m := tr.most.Load(); m != 1 {
					t.Fatalf("%d probes were in flight at once, want 1", m)
				}
			})
		})
	}
}

// TestProbeUsesEndpointAndSuccessStatus: a probe asks for the configured
// endpoint and passes only on a status in success_status.
func TestProbeUsesEndpointAndSuccessStatus(t *testing.T) {
	cases := []struct {
		name    string
		success proxyconf.StatusRange
		wantOK  bool
	}{
		{"204 inside [204, 204]", proxyconf.StatusRange{Min: 204, Max: 204}, true},
		{"204 outside [200, 200]", proxyconf.StatusRange{Min: 200, Max: 200}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var path atomic.Value
			h := testHealth()
			h.Endpoint, h.SuccessStatus = "/ready", c.success
			b := probeTarget(t, h, func(w http.ResponseWriter, r *http.Request) {
				path.Store(r.URL.Path)
				w.WriteHeader(http.StatusNoContent)
			})
			waitProbes(t, b, 1)
			got := b.Snapshot().LastCheck
			if path.Load() != "/ready" {
				t.Errorf("probe asked for %v, want /ready", path.Load())
			}
			if got.Status != 204 || got.OK != c.wantOK {
				t.Errorf("probe result %+v, want status 204 and OK %v", got, c.wantOK)
			}
		})
	}
}

// failingTransport fails every probe with err.
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// TestProbeLocalShortage: a probe that fails because ferrum ran out of file
// descriptors is marked local, so it counts neither way; a refused one is a
// plain failure.
func TestProbeLocalShortage(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		wantLocal bool
	}{
		{"out of file descriptors", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, true},
		{"out of ports", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBackend("http://127.0.0.1:9", testHealth(), quiet)
			p := NewProber(b, &http.Client{Transport: failingTransport{c.err}})
			res := p.probeOnce(context.Background(), time.Now())
			if res.OK || res.Local != c.wantLocal {
				t.Errorf("probe result OK %v Local %v, want OK false Local %v (%s)", res.OK, res.Local, c.wantLocal, res.Err)
			}
		})
	}
}
