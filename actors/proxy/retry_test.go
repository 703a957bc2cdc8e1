package proxy

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ferrum/actors"
	"ferrum/loadtest/fakebackend"
	"ferrum/messages"
)

// retryHealth keeps health out of the way of retry tests: one probe at
// start-up, and 503s never eject a backend.
const retryHealth = "[health]\ninterval = \"1h\"\nmax_ejected_percent = 0\n"

// TestRetryGETOn503GoesToOtherBackend: round robin over a 503 backend and a
// good one; every GET is answered 200 by the good one, and each time the
// 503 backend was tried first the retry went to the other.
func TestRetryGETOn503GoesToOtherBackend(t *testing.T) {
	noLeaks(t)
	bad := countedBackend(t, "bad", 503, nil)
	good := countedBackend(t, "good", 200, nil)
	h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\n"+routeConf("/", bad.url, good.url))
	h.waitFirstProbes()
	const n = 6
	for i := range n {
		resp, body := h.get("/x")
		if resp.StatusCode != 200 || body != "from good\n" {
			t.Fatalf("GET %d = %d %q, want 200 from good", i, resp.StatusCode, body)
		}
	}
	if good.hits.Load() != n {
		t.Errorf("good backend got %d requests, want %d (one per GET)", good.hits.Load(), n)
	}
	if b := bad.hits.Load(); b < 1 || b > n {
		t.Errorf("503 backend got %d requests, want 1..%d: round robin must have tried it", b, n)
	}
	if v := value(h.scrape(), "ferrum_proxy_retries_total", "route=/", "reason=status"); v != float64(bad.hits.Load()) {
		t.Errorf("retries_total{reason=status} = %v, want %d (one per 503)", v, bad.hits.Load())
	}
}

// TestRetryPOSTNotRetriedOn503: a POST may have acted; the client gets the
// backend's 503 and the other backend never sees it.
func TestRetryPOSTNotRetriedOn503(t *testing.T) {
	noLeaks(t)
	bad := countedBackend(t, "bad", 503, nil)
	good := countedBackend(t, "good", 200, nil)
	h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\n"+routeConf("/", bad.url, good.url)+"balancing = \"first_healthy\"\n")
	h.waitFirstProbes()
	// The empty body matters: nothing of it can be lost, so only the
	// method keeps this POST from being retried.
	for i, payload := range []string{"order=1", ""} {
		resp, body := h.send(http.MethodPost, "/x", payload)
		if resp.StatusCode != 503 || body != "from bad\n" {
			t.Fatalf("POST with body %q = %d %q, want the backend's own 503", payload, resp.StatusCode, body)
		}
		if bad.hits.Load() != int32(i+1) || good.hits.Load() != 0 {
			t.Fatalf("POST with body %q: bad has %d requests and good %d, want %d and 0",
				payload, bad.hits.Load(), good.hits.Load(), i+1)
		}
	}
}

// TestRetryPOSTOnConnectRefused: nothing was sent to a refused backend, so a
// POST goes to the next one with its body intact, both small and larger
// than max_buffered_body_bytes (which is streamed, never kept).
func TestRetryPOSTOnConnectRefused(t *testing.T) {
	noLeaks(t)
	dead := deadPort(t)
	live := backend(t, fakebackend.Options{Name: "live"})
	h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\nmax_buffered_body_bytes = 1024\n"+
		routeConf("/", dead, live)+"balancing = \"first_healthy\"\n")
	h.waitFirstProbes()
	for _, size := range []int{100, 200 << 10} {
		body := strings.Repeat("p", size)
		resp, _ := h.send(http.MethodPost, "/x", body)
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "live" {
			t.Fatalf("POST of %d bytes: %d from %q, want 200 from live", size, resp.StatusCode, resp.Header.Get("X-Backend"))
		}
		if got := resp.Header.Get("X-Request-Sha256"); got != sha256Hex(body) {
			t.Fatalf("POST of %d bytes arrived with %s bytes, sha %s: body not intact", size, resp.Header.Get("X-Request-Bytes"), got)
		}
	}
	if v := value(h.scrape(), "ferrum_proxy_retries_total", "route=/", "reason=connect"); v != 2 {
		t.Errorf("retries_total{reason=connect} = %v, want 2", v)
	}
}

// TestRetryPUTReplaysBodyIntact: a small PUT is kept and replayed whole to
// the second backend; a PUT larger than max_buffered_body_bytes is streamed,
// so it is either not retried or, if it is, never with a damaged body.
func TestRetryPUTReplaysBodyIntact(t *testing.T) {
	noLeaks(t)
	bad := countedBackend(t, "bad", 503, nil)
	good := countedBackend(t, "good", 200, nil)
	h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\nmax_buffered_body_bytes = 4096\n"+
		routeConf("/", bad.url, good.url)+"balancing = \"first_healthy\"\n")
	h.waitFirstProbes()

	small := strings.Repeat("0123456789abcdef", 200) // 3200 bytes
	resp, body := h.send(http.MethodPut, "/doc", small)
	if resp.StatusCode != 200 || body != "from good\n" {
		t.Fatalf("PUT = %d %q, want 200 from good after a retry", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Request-Sha256"); got != sha256Hex(small) {
		t.Errorf("retried PUT reached good with sha %s, want the body intact (%s)", got, sha256Hex(small))
	}
	if sums := bad.bodySums(); len(sums) != 1 || sums[0] != sha256Hex(small) {
		t.Errorf("first attempt's body sums %v, want the whole body once", sums)
	}

	large := strings.Repeat("L", 64<<10)
	goodBefore := good.hits.Load()
	resp, body = h.send(http.MethodPut, "/doc", large)
	t.Logf("PUT over max_buffered_body_bytes: %d %q", resp.StatusCode, body)
	switch {
	case resp.StatusCode == 503 && body == "from bad\n":
		if good.hits.Load() != goodBefore {
			t.Errorf("unretried large PUT still reached good")
		}
	case resp.StatusCode == 200:
		if got := resp.Header.Get("X-Request-Sha256"); got != sha256Hex(large) {
			t.Errorf("large PUT retried with a damaged body: %s bytes arrived", resp.Header.Get("X-Request-Bytes"))
		}
	default:
		t.Errorf("large PUT = %d %q, want bad's 503 or good's intact 200", resp.StatusCode, body)
	}
}

// TestRetrySingleBackendRetriesSameBackend: with one backend, a retry goes
// back to it, max_attempts times in all, and the client gets its answer.
func TestRetrySingleBackendRetriesSameBackend(t *testing.T) {
	noLeaks(t)
	only := countedBackend(t, "only", 503, nil)
	h := startProxy(t, retryHealth+"[retry]\nmax_attempts = 3\nbackoff = \"1ms\"\n"+routeConf("/", only.url))
	h.waitFirstProbes()
	resp, body := h.get("/x")
	if resp.StatusCode != 503 || body != "from only\n" {
		t.Fatalf("GET = %d %q, want the backend's 503", resp.StatusCode, body)
	}
	if n := only.hits.Load(); n != 3 {
		t.Fatalf("single backend got %d attempts, want max_attempts = 3", n)
	}
}

// TestRetryLastRealResponseWhenAttemptsRunOut: both backends answer 503 with
// their own body; the client gets the last one tried, not a made-up answer.
func TestRetryLastRealResponseWhenAttemptsRunOut(t *testing.T) {
	noLeaks(t)
	var log hitLog
	a := countedBackend(t, "a", 503, &log)
	b := countedBackend(t, "b", 503, &log)
	h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\n"+routeConf("/", a.url, b.url))
	h.waitFirstProbes()
	resp, body := h.get("/x")
	hits := log.list()
	if len(hits) != 2 || hits[0] == hits[1] {
		t.Fatalf("attempts went to %v, want two, to different backends", hits)
	}
	last := hits[1]
	if resp.StatusCode != 503 || body != "from "+last+"\n" || resp.Header.Get("X-Backend") != last {
		t.Fatalf("client got %d %q from %q, want the last real response: 503 %q from %s",
			resp.StatusCode, body, resp.Header.Get("X-Backend"), "from "+last+"\n", last)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("relayed response lacks X-Request-Id")
	}
}

// TestRetryKeepsLastRealResponseWhenRetryFails: the first backend answers
// 503, the retry then fails without any answer (refused, or no headers in
// read_timeout); the client gets the 503 it would have had, not a 502/504
// of the proxy's own.
func TestRetryKeepsLastRealResponseWhenRetryFails(t *testing.T) {
	cases := []struct {
		name  string
		other func(t *testing.T) string
	}{
		{"retry refused", deadPort},
		{"retry timed out", func(t *testing.T) string {
			return backend(t, fakebackend.Options{Name: "hang", Delay: 10 * time.Second})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			first := countedBackend(t, "first", 503, nil)
			h := startProxy(t, retryHealth+"[upstream]\nread_timeout = \"200ms\"\n[retry]\nbackoff = \"1ms\"\n"+
				routeConf("/", first.url, c.other(t))+"balancing = \"first_healthy\"\n")
			h.waitFirstProbes()
			resp, body := h.get("/x")
			if resp.StatusCode != 503 || body != "from first\n" || resp.Header.Get("X-Backend") != "first" {
				t.Fatalf("client got %d %q from %q, want the first backend's real 503", resp.StatusCode, body, resp.Header.Get("X-Backend"))
			}
			if first.hits.Load() != 1 {
				t.Errorf("first backend got %d requests, want 1", first.hits.Load())
			}
			if v := value(h.scrape(), "ferrum_proxy_retries_total", "route=/", "reason=status"); v != 1 {
				t.Errorf("retries_total{reason=status} = %v, want 1: the retry was never made", v)
			}
		})
	}
}

// TestRetryTotalTimeoutCapsHangingAttempt: total_timeout bounds the attempt
// in flight, however long read_timeout is.
func TestRetryTotalTimeoutCapsHangingAttempt(t *testing.T) {
	noLeaks(t)
	hang1 := backend(t, fakebackend.Options{Name: "hang1", Delay: 10 * time.Second})
	hang2 := backend(t, fakebackend.Options{Name: "hang2", Delay: 10 * time.Second})
	h := startProxy(t, retryHealth+"[upstream]\nread_timeout = \"10s\"\n[retry]\nmax_attempts = 3\ntotal_timeout = \"300ms\"\n"+
		routeConf("/", hang1, hang2))
	h.waitFirstProbes()
	start := time.Now()
	resp, body := h.get("/x")
	took := time.Since(start)
	t.Logf("%d %q after %v", resp.StatusCode, body, took.Round(time.Millisecond))
	if resp.StatusCode != 504 {
		t.Fatalf("hanging backends with total_timeout = 300ms: %d, want 504", resp.StatusCode)
	}
	if took < 280*time.Millisecond || took > 1200*time.Millisecond {
		t.Errorf("504 after %v, want about total_timeout = 300ms", took)
	}
}

// TestRetryBrokenResponseOnlyForIdempotent: a backend that reads the request
// and closes without answering may have acted on it, so only an idempotent
// request is tried again; a POST gets its 502 after one attempt.
func TestRetryBrokenResponseOnlyForIdempotent(t *testing.T) {
	cases := []struct {
		method string
		want   int32 // attempts
	}{
		{http.MethodPost, 1},
		{http.MethodGet, 2},
		{http.MethodDelete, 2},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			noLeaks(t)
			rb := startRawBackend(t, func(net.Conn, <-chan struct{}) {})
			h := startProxy(t, retryHealth+"[retry]\nbackoff = \"1ms\"\n"+routeConf("/", rb.url))
			h.waitFirstProbes()
			resp, _ := h.send(c.method, "/x", "abc")
			if resp.StatusCode != 502 {
				t.Fatalf("%s to a backend that closes without answering: %d, want 502", c.method, resp.StatusCode)
			}
			if n := rb.hits.Load(); n != c.want {
				t.Fatalf("%s reached the backend %d times, want %d", c.method, n, c.want)
			}
		})
	}
}

// TestRetryTokensAcrossRouteReplacement: requests holding retry tokens when
// a reload replaces their route's actor finish on the new actor, and leave
// neither actor counting retries that are over.
func TestRetryTokensAcrossRouteReplacement(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a", Status: 503})
	b := backend(t, fakebackend.Options{Name: "b", Status: 503})
	// A long backoff keeps every request between its attempts while the
	// reload happens.
	head := "[server]\nlisten = \"127.0.0.1:0\"\n" + retryHealth +
		"[retry]\nmax_attempts = 2\nbackoff = \"4s\"\ntotal_timeout = \"20s\"\nmin_retry_concurrency = 100\n"
	s, path := startServer(t, head+routeConf("/", a, b))
	old := s.Tree().Routes()[0].Actor()
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + s.Addr() + "/x")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	load := func(r *actors.Route) (int, int) { return r.RetryLoad() }
	eventually(t, 5*time.Second, "requests never all waited for a retry", func() bool {
		tokens, _ := load(old)
		return tokens == n
	})
	// A changed balancing gives the route a new actor.
	if err := os.WriteFile(path, []byte(head+routeConf("/", a, b)+"balancing = \"first_healthy\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	next := s.Tree().Routes()[0].Actor()
	if next == old {
		t.Fatal("the reload kept the route actor; the test needs a new one")
	}
	wg.Wait()
	eventually(t, 5*time.Second, "the new route actor still counts retries", func() bool {
		tokens, retrying := load(next)
		return tokens == 0 && retrying == 0
	})
}

// TestUnreportedPickIsGivenBack: a pick that never reached report (only a
// panic between the two can do that) is given back when the request ends,
// and only once.
func TestUnreportedPickIsGivenBack(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, retryHealth+routeConf("/", a))
	rt := h.p.Table().route("/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	idx, ok, err := rt.actor.Pick(ctx, make(chan messages.PickReply, 1), -1, 0, false, false)
	if !ok || err != nil {
		t.Fatalf("Pick: %v %v", ok, err)
	}
	r := request{unreported: rt, unreportedIdx: idx}
	r.releaseUnreported()
	r.releaseUnreported()
	eventually(t, 5*time.Second, "the unreported pick was never given back", func() bool {
		return rt.actor.Inflight()[0] == 0
	})
	// Requests that report as usual leave nothing behind either.
	for range 5 {
		h.get("/x")
	}
	h.scrape() // waits until no request is in flight
	eventually(t, 5*time.Second, "picks of finished requests still counted in flight", func() bool {
		return rt.actor.Inflight()[0] == 0
	})
}
