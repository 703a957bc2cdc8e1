package proxy

import (
	"bufio"
	"context"
	"errors"
	"ferrum/loadtest/fakebackend"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTrickledBodyGets408: a body sent far below client_body_min_rate gets
// 408 once the grace period is over, though each pause is shorter than
// client_body_timeout, and the backend never gets a complete request: its
// connection is closed.
func TestTrickledBodyGets408(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the 5 s grace period")
	}
	ln := loopbackListener(t)
	got := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if req.URL.Path == "/health" {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
					return
				}
				if _, err := io.ReadAll(req.Body); err != nil {
					got <- "cut"
				} else {
					got <- "complete"
				}
			}()
		}
	}()
	h := startProxy(t, "[health]\ninterval = \"1h\"\n"+routeConf("/", "http://"+ln.Addr().String())+"client_body_timeout = \"3s\"\n")
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			answered <- resp
		}
		close(answered)
	}()
	// 10 bytes a second: every pause (100 ms) far below client_body_timeout,
	// the average far below the default 240 bytes a second.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case resp := <-answered:
			if resp == nil {
				t.Fatal("connection closed without an answer")
			}
			took := time.Since(start)
			if resp.StatusCode != 408 {
				t.Fatalf("trickled body: %d, want 408", resp.StatusCode)
			}
			if took < minRateGrace || took > minRateGrace+3*time.Second {
				t.Errorf("408 after %v, want just after the %v grace period", took, minRateGrace)
			}
			select {
			case g := <-got:
				if g == "complete" {
					t.Error("the backend got a complete request from a trickled body")
				}
			case <-time.After(5 * time.Second):
				t.Error("the backend connection of the trickled request was not closed")
			}
			return
		case <-tick.C:
			if time.Since(start) > 15*time.Second {
				t.Fatal("no answer to a trickled body after 15 s")
			}
			c.Write([]byte("x"))
		}
	}
}

// TestBackendClosedIdleConnectionIsFreed: an idle pooled connection the
// backend closed is closed by ferrum within a few seconds, with no request
// needing it, so none lingers in CLOSE_WAIT.
func TestBackendClosedIdleConnectionIsFreed(t *testing.T) {
	ln := loopbackListener(t)
	freed := make(chan time.Duration, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.URL.Path == "/health" {
					if err == nil {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
					}
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				// The backend's idle timeout: it closes its side, then
				// waits for ferrum to close the other.
				closedAt := time.Now()
				c.(*net.TCPConn).CloseWrite()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := br.ReadByte(); err == io.EOF {
					freed <- time.Since(closedAt)
				}
			}()
		}
	}()
	h := startProxy(t, "[health]\ninterval = \"1h\"\n"+routeConf("/", "http://"+ln.Addr().String()))
	if resp, _ := h.get("/x"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case d := <-freed:
		if d > sweepEvery+time.Second {
			t.Errorf("freed after %v, want within one sweep (%v)", d, sweepEvery)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the connection the backend closed was never freed: it sits in CLOSE_WAIT")
	}
}

// TestLocalShortageIsNotTheBackends: a dial that fails because ferrum ran
// out of descriptors or ports is local_resources (503), never charged to
// the backend and never retried; a refused dial is the backend's.
func TestLocalShortageIsNotTheBackends(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &dialError{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
	}
	cases := []struct {
		name       string
		err        error
		kind       string
		status     int
		local      bool
		retryable  bool
		whatPrefix string
	}{
		{"out of descriptors", dial(syscall.EMFILE), KindLocalResources, 503, true, false, "file descriptors"},
		{"system out of descriptors", dial(syscall.ENFILE), KindLocalResources, 503, true, false, "file descriptors"},
		{"out of ports", dial(syscall.EADDRNOTAVAIL), KindLocalResources, 503, true, false, "local ports"},
		{"refused", dial(syscall.ECONNREFUSED), KindUpstreamConnect, 502, false, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := classify(c.err, false)
			if f.kind != c.kind || f.status != c.status || f.local != c.local || (f.reason != "") != c.retryable ||
				!strings.HasPrefix(f.what, c.whatPrefix) {
				t.Fatalf("classify = %+v, want kind %s status %d local %v retryable %v", f, c.kind, c.status, c.local, c.retryable)
			}
		})
	}
	if !errors.Is(dial(syscall.EMFILE), syscall.EMFILE) {
		t.Fatal("dialError hides its cause")
	}
}

// TestSlowUploadOutlastsTotalTimeout: a body the client sends slowly but
// above client_body_min_rate is not cut by retry.total_timeout, which
// bounds waiting on backends, not on the client; the backend is not
// blamed.
func TestSlowUploadOutlastsTotalTimeout(t *testing.T) {
	up := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	h := startProxy(t, "[health]\ninterval = \"1h\"\n[retry]\ntotal_timeout = \"300ms\"\n"+routeConf("/", up))
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("b", 100)
		for range 10 { // 1,000 bytes over about a second: 3x total_timeout
			if _, err := pw.Write([]byte(chunk)); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // the client's pace, not an ordering
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/up", pr)
	req.ContentLength = 1000
	resp, body := do(t, req)
	if resp.StatusCode != 200 || body != "1000" {
		t.Fatalf("slow upload: %d %q, want 200 and all 1000 bytes", resp.StatusCode, body)
	}
	if v := value(h.scrape(), "ferrum_proxy_backend_requests_total", "outcome=failure"); v > 0 {
		t.Errorf("a slow client was charged to the backend: %v failures", v)
	}
}

// TestDrainServesConnectionsAcceptedJustBefore: a connection accepted
// before the listener closed but whose request comes after (a client that
// just connected) is served, with Connection: close, not closed under the
// client; one that sends nothing is closed after a short grace, and
// neither counts as a request cut off.
func TestDrainServesConnectionsAcceptedJustBefore(t *testing.T) {
	s, _ := startServer(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	// Room for a loaded machine between the drain's start and the request.
	s.freshGrace = 4 * time.Second
	fresh, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	silent, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Both are accepted (the server holds them) before the drain.
	eventually(t, 5*time.Second, "connections accepted", func() bool { return s.conns.count() == 2 })
	s.StartDrain()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	eventually(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.Dial("tcp", s.Addr())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	_ = fresh.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(fresh, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(fresh), nil)
	if err != nil {
		t.Fatalf("a request on a connection accepted before the listener closed was not served: %v", err)
	}
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("answer %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown = %v: a silent connection is not a request cut off", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drain waited on a connection that never sent a request")
	}
	_ = silent.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := silent.Read(make([]byte, 1)); !closedByPeer(err) {
		t.Errorf("the silent connection is still open after the drain: %v", err)
	}
}
