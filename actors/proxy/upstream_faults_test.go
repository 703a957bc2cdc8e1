package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
)

// stall holds the connection open without writing until the test ends.
func stall(_ net.Conn, done <-chan struct{}) { <-done }

// writeThen writes s, then does after.
func writeThen(s string, after func(net.Conn, <-chan struct{})) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, done <-chan struct{}) {
		if _, err := io.WriteString(c, s); err != nil {
			return
		}
		after(c, done)
	}
}

// TestMisbehavingBackendsBeforeHeaders: a backend that fails before sending
// usable response headers gets the client the contract's status, in time,
// with the matching error kind counted.
func TestMisbehavingBackendsBeforeHeaders(t *testing.T) {
	cases := []struct {
		name      string
		misbehave func(net.Conn, <-chan struct{})
		dead      bool
		upstream  string
		want      int
		kind      string
		within    time.Duration
		notBefore time.Duration
	}{
		{
			name: "stall before headers", misbehave: stall,
			upstream: "read_timeout = \"300ms\"\n",
			want:     504, kind: "upstream_timeout",
			within: 300*time.Millisecond + 700*time.Millisecond, notBefore: 280 * time.Millisecond,
		},
		{
			name: "invalid response", misbehave: writeThen("garbage\r\n\r\n", stall),
			want: 502, kind: "upstream_invalid_response", within: 2 * time.Second,
		},
		{
			// Taken as a tunnel, it would hold the request (and its
			// pick) for as long as the backend stays silent.
			name:      "101 to a request that asked for no upgrade",
			misbehave: writeThen("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", stall),
			want:      502, kind: "upstream_invalid_response", within: 2 * time.Second,
		},
		{
			name: "closed without a response", misbehave: func(net.Conn, <-chan struct{}) {},
			want: 502, kind: "upstream_reset", within: 2 * time.Second,
		},
		{
			name: "refused", dead: true,
			want: 502, kind: "upstream_connect", within: 2 * time.Second, // connect_timeout is 3s
		},
		{
			name:      "content-length over max_response_body_bytes",
			misbehave: writeThen("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\nSECRET-BODY-BYTES", stall),
			upstream:  "max_response_body_bytes = 1024\n",
			want:      502, kind: "response_too_large", within: 2 * time.Second,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			url := deadPort(t)
			var rb *rawBackend
			if !c.dead {
				rb = startRawBackend(t, c.misbehave)
				url = rb.url
			}
			conf := "[health]\ninterval = \"1h\"\n[retry]\nmax_attempts = 1\n[upstream]\n" + c.upstream + routeConf("/", url)
			h := startProxy(t, conf)
			h.waitFirstProbes()
			start := time.Now()
			resp, body := h.get("/x")
			took := time.Since(start)
			t.Logf("%d %q after %v", resp.StatusCode, body, took.Round(time.Millisecond))
			if resp.StatusCode != c.want {
				t.Fatalf("GET = %d %q, want %d", resp.StatusCode, body, c.want)
			}
			if took > c.within || took < c.notBefore {
				t.Errorf("answered after %v, want within [%v, %v]", took, c.notBefore, c.within)
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "SECRET") {
				t.Errorf("error body %q leaks the backend's address or bytes", body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("proxy's own %d has no X-Request-Id", resp.StatusCode)
			}
			if rb != nil && rb.hits.Load() != 1 {
				t.Errorf("backend got %d requests, want 1", rb.hits.Load())
			}
			mfs := h.scrape()
			if v := value(mfs, "ferrum_proxy_errors_total", "route=/", "kind="+c.kind); v != 1 {
				t.Errorf("errors_total{kind=%s} = %v, want 1", c.kind, v)
			}
		})
	}
}

// TestRefusedIsFastWithRetries: with retries on (the default two attempts),
// a refused backend still answers 502 without waiting on anything.
func TestRefusedIsFastWithRetries(t *testing.T) {
	noLeaks(t)
	h := startProxy(t, "[health]\ninterval = \"1h\"\n"+routeConf("/", deadPort(t)))
	start := time.Now()
	resp, _ := h.get("/x")
	if resp.StatusCode != 502 {
		t.Fatalf("refused backend: %d, want 502", resp.StatusCode)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("502 for a refused backend took %v, want it at once, not after connect_timeout (3s)", took)
	}
}

// resetOn resets the connection (RST, not FIN) once release is closed.
func resetOn(release <-chan struct{}) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, done <-chan struct{}) {
		select {
		case <-release:
		case <-done:
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
}

// TestBackendFailsMidBody: once the headers have gone to the client, a
// backend that stalls, resets, or sends more than max_response_body_bytes
// can only cut the client's connection: the client must get the headers and
// the first bytes, then an error, never a clean end of a short body.
//
// The Content-Length variants send 8 KiB before failing so the bytes pass
// net/http's write buffer (see TestContentLengthResponseBytesFlow).
func TestBackendFailsMidBody(t *testing.T) {
	const (
		chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
		lengthHead  = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789"
	)
	lengthPrefix := lengthHead + strings.Repeat("x", 8192)
	cases := []struct {
		name     string
		prefix   string
		reset    bool // reset after the client read the first bytes; else stall
		kind     string
		upstream string
		within   time.Duration
	}{
		{name: "stall mid-body, chunked", prefix: chunkedHead, kind: "upstream_body_timeout",
			upstream: "read_timeout = \"300ms\"\n", within: 300*time.Millisecond + 700*time.Millisecond},
		{name: "stall mid-body, content-length", prefix: lengthPrefix, kind: "upstream_body_timeout",
			upstream: "read_timeout = \"300ms\"\n", within: 300*time.Millisecond + 700*time.Millisecond},
		{name: "reset mid-body, chunked", prefix: chunkedHead, reset: true, kind: "upstream_reset", within: 2 * time.Second},
		{name: "reset mid-body, content-length", prefix: lengthPrefix, reset: true, kind: "upstream_reset", within: 2 * time.Second},
		{name: "chunked body over max_response_body_bytes",
			prefix: chunkedHead + "800\r\n" + strings.Repeat("x", 2048) + "\r\n0\r\n\r\n",
			kind:   "response_too_large", upstream: "max_response_body_bytes = 1024\n", within: 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			release := make(chan struct{})
			after := stall
			if c.reset {
				after = resetOn(release)
			}
			rb := startRawBackend(t, writeThen(c.prefix, after))
			conf := "[health]\ninterval = \"1h\"\n[retry]\nmax_attempts = 1\n[upstream]\n" + c.upstream + routeConf("/", rb.url)
			h := startProxy(t, conf)
			h.waitFirstProbes()
			start := time.Now()
			resp, err := client.Get(h.url + "/x")
			if err != nil {
				t.Fatalf("GET: %v (want the headers before the failure)", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET = %d, want the backend's 200", resp.StatusCode)
			}
			first := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "0123456789" {
				t.Fatalf("first body bytes %q (%v), want them streamed before the failure", first, err)
			}
			close(release)
			rest, err := io.ReadAll(resp.Body)
			took := time.Since(start)
			t.Logf("client read %d more bytes, then %v, after %v", len(rest), err, took.Round(time.Millisecond))
			if err == nil {
				t.Fatalf("body ended cleanly after %d bytes: the client cannot tell the response was cut", 10+len(rest))
			}
			if c.kind == "response_too_large" && 10+len(rest) > 1024 {
				t.Errorf("client got %d body bytes, more than max_response_body_bytes = 1024", 10+len(rest))
			}
			if took > c.within {
				t.Errorf("connection cut after %v, want within %v", took, c.within)
			}
			eventually(t, 2*time.Second, "error kind "+c.kind+" never counted", func() bool {
				return value(h.scrapeNow(), "ferrum_proxy_errors_total", "route=/", "kind="+c.kind) == 1
			})
		})
	}
}

// TestContentLengthResponseBytesFlow: the contract says response bytes reach
// the client as the upstream sends them. A backend that sends its headers and
// the first 10 bytes of a 100-byte body, then holds the rest, must have those
// reach the client while it holds.
func TestContentLengthResponseBytesFlow(t *testing.T) {
	noLeaks(t)
	rb := startRawBackend(t, writeThen("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", stall))
	h := startProxy(t, "[health]\ninterval = \"1h\"\n[retry]\nmax_attempts = 1\n"+routeConf("/", rb.url))
	h.waitFirstProbes()
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no headers while the backend holds the rest of its body: %v", err)
	}
	first := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first 10 body bytes did not arrive while the backend held the rest: %v", err)
	}
}

// TestClientStalledUploadIs408NotChargedToBackend: a client that stops
// sending its body gets 408 after client_body_timeout, and the backend is not
// blamed: no failure counted, still healthy, no passive failure recorded.
// POST streams its body; a small PUT is read whole first for replay.
func TestClientStalledUploadIs408NotChargedToBackend(t *testing.T) {
	for _, method := range []string{"POST", "PUT"} {
		t.Run(method, func(t *testing.T) {
			noLeaks(t)
			up := backend(t, fakebackend.Options{Name: "a"})
			conf := "[health]\ninterval = \"1h\"\nfailure_threshold = 1\n" +
				routeConf("/", up) + "client_body_timeout = \"200ms\"\n"
			h := startProxy(t, conf)
			h.waitFirstProbes()

			c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			if _, err := io.WriteString(c, method+" /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to the stalled upload: %v", err)
			}
			resp.Body.Close()
			took := time.Since(start)
			t.Logf("%d after %v", resp.StatusCode, took.Round(time.Millisecond))
			if resp.StatusCode != 408 {
				t.Fatalf("stalled upload: %d, want 408", resp.StatusCode)
			}
			if took < 180*time.Millisecond || took > 1500*time.Millisecond {
				t.Errorf("408 after %v, want about client_body_timeout = 200ms", took)
			}

			eventually(t, 2*time.Second, "client_body_timeout never counted", func() bool {
				return value(h.scrapeNow(), "ferrum_proxy_errors_total", "route=/", "kind=client_body_timeout") == 1
			})
			mfs := h.scrape()
			if v := value(mfs, "ferrum_proxy_backend_requests_total", "outcome=failure"); v != 0 {
				t.Errorf("backend_requests_total{outcome=failure} = %v, want 0: the client stalled, not the backend", v)
			}
			if v := value(mfs, "ferrum_proxy_backend_failures_total", "source=passive"); v != 0 {
				t.Errorf("backend_failures_total{source=passive} = %v, want 0", v)
			}
			be := h.backendEntries("/")[up]
			if be.State != "healthy" || be.ConsecutiveFailures != 0 {
				t.Errorf("backend after a client stall: state %q, consecutive_failures %d; want healthy and 0",
					be.State, be.ConsecutiveFailures)
			}
			if resp, _ := h.get("/after"); resp.StatusCode != 200 {
				t.Errorf("GET after the stalled upload = %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestRequestHeadOverMaxHeaderBytesIs431: a head over max_header_bytes gets
// 431 and never reaches the backend; one comfortably under it passes.
func TestRequestHeadOverMaxHeaderBytesIs431(t *testing.T) {
	noLeaks(t)
	up, count := completeCounter(t)
	h := startProxy(t, "[server]\nmax_header_bytes = 8192\n"+routeConf("/", up))
	resp, _, _, _ := h.raw("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("6000-byte header with max_header_bytes = 8192: %d, want 200", resp.StatusCode)
	}
	resp, _, _, _ = h.raw("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 10000) + "\r\n\r\n")
	if resp.StatusCode != 431 {
		t.Fatalf("10000-byte header with max_header_bytes = 8192: %d, want 431", resp.StatusCode)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("backend saw %d requests, want only the one under the limit", n)
	}
}

// TestClientDisconnectMidUploadNotCharged: a client that hangs up halfway
// through its upload cut the attempt short; the backend is not blamed.
func TestClientDisconnectMidUploadNotCharged(t *testing.T) {
	noLeaks(t)
	var got atomic.Int32 // requests whose head reached the backend
	fb := fakebackend.Handler(fakebackend.Options{Name: "a"})
	up := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			got.Add(1)
		}
		fb.ServeHTTP(w, r)
	})
	h := startProxy(t, "[health]\ninterval = \"1h\"\nfailure_threshold = 1\n"+routeConf("/", up))
	h.waitFirstProbes()
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "upload never reached the backend", func() bool { return got.Load() == 1 })
	c.Close()
	eventually(t, 5*time.Second, "the cut attempt was never counted as cancelled", func() bool {
		return value(h.scrapeNow(), "ferrum_proxy_backend_requests_total", "outcome=cancelled") == 1
	})
	mfs := h.scrape()
	if v := value(mfs, "ferrum_proxy_backend_requests_total", "outcome=failure"); v != 0 {
		t.Errorf("backend_requests_total{outcome=failure} = %v, want 0: the client hung up", v)
	}
	if v := value(mfs, "ferrum_proxy_errors_total", "route=/", "kind=client_disconnect"); v != 1 {
		t.Errorf("errors_total{kind=client_disconnect} = %v, want 1", v)
	}
	if v := value(mfs, "ferrum_proxy_requests_total", "route=/", "code=499"); v != 1 {
		t.Errorf("requests_total{code=499} = %v, want 1", v)
	}
	if be := h.backendEntries("/")[up]; be.State != "healthy" || be.ConsecutiveFailures != 0 {
		t.Errorf("backend after a client hang-up: state %q, consecutive_failures %d; want healthy and 0", be.State, be.ConsecutiveFailures)
	}
}
