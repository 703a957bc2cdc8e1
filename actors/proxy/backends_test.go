package proxy

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"ferrum/loadtest/fakebackend"
)

// noLeaks fails t if goroutines started during the test outlive it. Call it
// first in a test: its check is registered as the first cleanup, so it runs
// after every other cleanup (proxy, backends) has closed what it owns.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		client.CloseIdleConnections()
		// net/http lingers up to 500 ms on a connection it refused (its
		// RST avoidance), so give stragglers a bounded while to end.
		deadline := time.Now().Add(3 * time.Second)
		for {
			err := goleak.Find(opt)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines leaked: %v", err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// killable is a fake backend on a listener the test owns, so it can be
// killed and started again on the same port.
type killable struct {
	t    *testing.T
	addr string
	o    fakebackend.Options
	srv  *http.Server  // nil while killed
	done chan struct{} // closed when srv.Serve has returned
}

func startKillable(t *testing.T, o fakebackend.Options) *killable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &killable{t: t, addr: ln.Addr().String(), o: o}
	k.serve(ln)
	t.Cleanup(k.kill)
	return k
}

func (k *killable) url() string { return "http://" + k.addr }

func (k *killable) serve(ln net.Listener) {
	srv := fakebackend.NewServer(k.o)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	k.srv, k.done = srv, done
}

// kill closes the listener and every connection, as a crashed process would.
func (k *killable) kill() {
	if k.srv == nil {
		return
	}
	k.srv.Close()
	<-k.done
	k.srv = nil
}

// restart listens again on the same address.
func (k *killable) restart() {
	k.t.Helper()
	ln, err := net.Listen("tcp", k.addr)
	if err != nil {
		k.t.Fatalf("listen again on %s: %v", k.addr, err)
	}
	k.serve(ln)
}

// rawBackend is a backend on a raw socket. It answers the health probe
// (GET /health) properly; for any other request it reads the request head
// and body, then hands the connection to misbehave, which writes whatever
// bytes it likes. The connection is closed when misbehave returns.
type rawBackend struct {
	url  string
	hits atomic.Int32 // requests handed to misbehave
}

// startRawBackend starts a raw backend until the test ends. done is closed
// at cleanup, so a misbehave that stalls on it returns then.
func startRawBackend(t *testing.T, misbehave func(c net.Conn, done <-chan struct{})) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rb := &rawBackend{url: "http://" + ln.Addr().String()}
	done := make(chan struct{})
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				rb.serveConn(c, misbehave, done)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(done)
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return rb
}

func (rb *rawBackend) serveConn(c net.Conn, misbehave func(net.Conn, <-chan struct{}), done <-chan struct{}) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		if req.URL.Path == "/health" {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"); err != nil || req.Close {
				return
			}
			continue
		}
		rb.hits.Add(1)
		misbehave(c, done)
		return
	}
}

// counted is a backend that answers every request but the health probe with
// a fixed status and body, and counts them.
type counted struct {
	url  string
	hits atomic.Int32
	mu   sync.Mutex
	sums []string // SHA-256 of each request body received whole
}

// hitLog records which backends were hit, in order.
type hitLog struct {
	mu    sync.Mutex
	names []string
}

func (l *hitLog) add(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

func (l *hitLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// countedBackend answers status with body "from <name>\n"; log may be nil.
func countedBackend(t *testing.T, name string, status int, log *hitLog) *counted {
	t.Helper()
	c := &counted{}
	c.url = handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		c.hits.Add(1)
		if log != nil {
			log.add(name)
		}
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err == nil {
			sum := hex.EncodeToString(h.Sum(nil))
			c.mu.Lock()
			c.sums = append(c.sums, sum)
			c.mu.Unlock()
			w.Header().Set("X-Request-Sha256", sum)
		}
		w.Header().Set("X-Backend", name)
		w.WriteHeader(status)
		io.WriteString(w, "from "+name+"\n")
	})
	return c
}

func (c *counted) bodySums() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sums...)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// backendEntry is one backend of /health/backends as a client decodes it.
type backendEntry struct {
	URL                  string  `json:"url"`
	Healthy              bool    `json:"healthy"`
	State                string  `json:"state"`
	ConsecutiveFailures  int     `json:"consecutive_failures"`
	ConsecutiveSuccesses int     `json:"consecutive_successes"`
	EjectedUntil         *string `json:"ejected_until"`
	Ejections            int     `json:"ejections"`
	Inflight             int     `json:"inflight"`
	LastTransition       *struct {
		At     string `json:"at"`
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	} `json:"last_transition"`
}

// backendEntries fetches /health/backends and returns the entries of the
// route with prefix, keyed by URL.
func (h *harness) backendEntries(prefix string) map[string]backendEntry {
	h.t.Helper()
	resp, body := h.get("/health/backends")
	if resp.StatusCode != 200 {
		h.t.Fatalf("/health/backends = %d %q", resp.StatusCode, body)
	}
	var doc struct {
		Routes []struct {
			PathPrefix string         `json:"path_prefix"`
			Backends   []backendEntry `json:"backends"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		h.t.Fatalf("/health/backends: %v in %q", err, body)
	}
	for _, r := range doc.Routes {
		if r.PathPrefix == prefix {
			m := map[string]backendEntry{}
			for _, b := range r.Backends {
				m[b.URL] = b
			}
			return m
		}
	}
	h.t.Fatalf("/health/backends has no route %q: %s", prefix, body)
	return nil
}

// waitFirstProbes waits until every backend of every route has been probed
// once, so a later probe cannot race the test's own traffic.
func (h *harness) waitFirstProbes() {
	h.t.Helper()
	eventually(h.t, 5*time.Second, "first probes never recorded", func() bool {
		for _, r := range h.tree.Routes() {
			for _, b := range r.Actor().Backends() {
				if b.Snapshot().LastCheck == nil {
					return false
				}
			}
		}
		return true
	})
}

// send sends a method request with body and returns the response with its body read.
func (h *harness) send(method, path, body string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	return do(h.t, req)
}
