package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ferrum/proxyconf"
)

// closingBackend answers one request per connection and then closes it
// without saying so (no "Connection: close"), the way a backend with a short
// keep-alive timeout does. Each close after a request other than a health
// probe is reported on the returned channel.
func closingBackend(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln := loopbackListener(t)
	closed := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				if req.URL.Path != "/health" {
					// Only traffic's closes are reported: a probe's
					// would let the test run ahead of the close it waits for.
					defer func() {
						c.Close()
						select {
						case closed <- struct{}{}:
						default:
						}
					}()
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
			}()
		}
	}()
	return "http://" + ln.Addr().String(), closed
}

// TestStaleKeepAliveConnectionsAreReplaced: every request after the first
// finds a pooled connection the backend has closed (the test waits for the
// close before sending the next); a POST, which may not be sent twice, must
// not be written to it.
func TestStaleKeepAliveConnectionsAreReplaced(t *testing.T) {
	up, closed := closingBackend(t)
	h := startProxy(t, "[health]\ninterval = \"1h\"\n[retry]\nmax_attempts = 1\n"+routeConf("/", up))
	for i := 0; i < 20; i++ {
		method := http.MethodGet
		var body io.Reader
		if i%2 == 1 {
			method, body = http.MethodPost, strings.NewReader("payload")
		}
		req, _ := http.NewRequest(method, h.url+"/x", body)
		if resp, got := do(t, req); resp.StatusCode != 200 || got != "ok\n" {
			t.Fatalf("request %d (%s) over a backend that closes idle connections: %d %q", i, method, resp.StatusCode, got)
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d: the backend never closed its connection", i)
		}
	}
}

func TestKeepAliveConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	h := startProxy(t, "[health]\ninterval = \"1h\"\n"+routeConf("/", "http://"+ln.Addr().String()))
	for i := 0; i < 50; i++ {
		if resp, _ := h.get("/x"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// One connection for the probe, one (reused) for the 50 requests.
	if n := conns.Load(); n > 3 {
		t.Fatalf("50 sequential requests opened %d upstream connections, want them reused", n)
	}
}

func TestOversizedResponseHeadIsInvalid(t *testing.T) {
	ln := loopbackListener(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
				for i := 0; i < 2000; i++ {
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	h := startProxy(t, "[health]\ninterval = \"1h\"\n[retry]\nmax_attempts = 1\n"+routeConf("/", "http://"+ln.Addr().String()))
	resp, _ := h.get("/x")
	if resp.StatusCode != 502 {
		t.Fatalf("2 MB response head: %d, want 502", resp.StatusCode)
	}
	if v := value(h.scrape(), "ferrum_proxy_errors_total", "kind=upstream_invalid_response"); v != 1 {
		t.Fatalf("upstream_invalid_response = %v, want 1", v)
	}
}

// TestForgottenPoolClosesReturningConnections: a connection that was
// carrying a request when a reload dropped its pool is closed when the
// request ends, not kept idle for a backend the config no longer has.
func TestForgottenPoolClosesReturningConnections(t *testing.T) {
	ln := loopbackListener(t)
	pools := NewPools()
	b := proxyconf.Backend{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), Weight: 1}
	cp := pools.get(b, proxyconf.Default().Upstream)
	pc, err := cp.get(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	pools.Forget(&proxyconf.Config{}) // a config without this backend
	cp.put(pc)                        // the request in flight ends
	if _, err := pc.conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on the returned connection: %v, want it closed", err)
	}
	if n := cp.idle.len(); n != 0 {
		t.Fatalf("the forgotten pool keeps %d idle connections", n)
	}
}

// loopbackListener listens on a free loopback port until the test ends.
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
