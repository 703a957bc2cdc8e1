package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"ferrum/actors/proxy/headers"
	"ferrum/loadtest/fakebackend"
)

func TestRoutingAndBalancing(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	b := backend(t, fakebackend.Options{Name: "b"})
	s := backend(t, fakebackend.Options{Name: "static"})
	h := startProxy(t, routeConf("/api", a, b)+routeConf("/static", s))

	seen := map[string]int{}
	var order []string
	for range 4 {
		resp, _ := h.get("/api/users")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/users = %d, want 200", resp.StatusCode)
		}
		name := resp.Header.Get("X-Backend")
		seen[name]++
		order = append(order, name)
	}
	if seen["a"] != 2 || seen["b"] != 2 || order[0] == order[1] {
		t.Fatalf("round robin over a,b gave %v, want alternating", order)
	}

	cases := []struct {
		path        string
		wantStatus  int
		wantBackend string
		wantPath    string
	}{
		{"/static/logo.png", 200, "static", "/static/logo.png"},
		{"/api", 200, "", "/api"},
		{"/api/", 200, "", "/api/"},
		{"/apix", 404, "", ""},
		{"/api/../static/x", 200, "static", "/static/x"},
		{"/api/%2e%2E/static/x", 200, "static", "/static/x"},
		{"/api/users?x=1&y=%20", 200, "", "/api/users?x=1&y=%20"},
		{"/api/a%2Fb//c", 200, "", "/api/a%2Fb//c"},
		{"/nothing", 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, body := h.get(c.path)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("GET %s = %d %q, want %d", c.path, resp.StatusCode, body, c.wantStatus)
			}
			if c.wantBackend != "" && resp.Header.Get("X-Backend") != c.wantBackend {
				t.Errorf("GET %s reached %q, want %q", c.path, resp.Header.Get("X-Backend"), c.wantBackend)
			}
			if c.wantPath != "" && resp.Header.Get("X-Seen-Path") != c.wantPath {
				t.Errorf("GET %s: backend saw %q, want %q", c.path, resp.Header.Get("X-Seen-Path"), c.wantPath)
			}
			if c.wantStatus == 404 && resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("GET %s: 404 without X-Request-Id", c.path)
			}
		})
	}
}

func TestPathClimbingAboveRootIs400(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	for _, p := range []string{"/..", "/a/../..", "/%2e%2e/etc/passwd"} {
		resp, _, _, _ := h.raw("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 400 {
			t.Errorf("GET %s = %d, want 400", p, resp.StatusCode)
		}
	}
}

func TestStripPrefixAndHost(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	conf := routeConf("/api", a) + "strip_prefix = true\npreserve_host = false\n" + routeConf("/keep", a)
	h := startProxy(t, conf)
	resp, _ := h.get("/api/users?q=1")
	if got := resp.Header.Get("X-Seen-Path"); got != "/users?q=1" {
		t.Errorf("strip_prefix: backend saw %q, want /users?q=1", got)
	}
	if got, want := resp.Header.Get("X-Seen-Host"), strings.TrimPrefix(a, "http://"); got != want {
		t.Errorf("preserve_host = false: backend saw Host %q, want %q", got, want)
	}
	resp, _ = h.get("/api")
	if got := resp.Header.Get("X-Seen-Path"); got != "/" {
		t.Errorf("strip_prefix of the bare prefix: backend saw %q, want /", got)
	}
	resp, _ = h.get("/keep/x")
	if got, want := resp.Header.Get("X-Seen-Host"), h.addr; got != want {
		t.Errorf("preserve_host: backend saw Host %q, want the client's %q", got, want)
	}
}

func TestHopByHopAndForwardedHeaders(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	resp, _, _, _ := h.raw("GET /x?echo=1 HTTP/1.1\r\nHost: example.test\r\n" +
		"Connection: keep-alive, X-Secret\r\nX-Secret: s3cret\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic abc\r\nTE: gzip\r\nUpgrade: foo\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6\r\n" +
		"X-Request-Id: client-id-1\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, name := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade", "Connection", "Forwarded"} {
		if v := resp.Header.Get("X-Echo-" + name); v != "" {
			t.Errorf("backend received %s: %q, want it removed", name, v)
		}
	}
	checks := map[string]string{
		"X-Echo-X-Forwarded-For":   "127.0.0.1",
		"X-Echo-X-Forwarded-Host":  "example.test",
		"X-Echo-X-Forwarded-Proto": "http",
		"X-Echo-X-Request-Id":      "client-id-1",
	}
	for k, want := range checks {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("backend got %s = %q, want %q", strings.TrimPrefix(k, "X-Echo-"), got, want)
		}
	}
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-1" {
		t.Errorf("client got X-Request-Id %q, want its own", got)
	}
}

// TestHTTP10WithoutHostStillSendsOne: an HTTP/1.0 client may leave Host
// out; the backend still gets one, its own.
func TestHTTP10WithoutHostStillSendsOne(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, routeConf("/", a))
	resp, _, _, _ := h.raw("GET /x HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got, want := resp.Header.Get("X-Seen-Host"), strings.TrimPrefix(a, "http://"); got != want {
		t.Errorf("backend saw Host %q, want its own %q", got, want)
	}
}

func TestTrustedProxyExtendsForwardedFor(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n"+routeConf("/", a))
	resp, _ := h.get("/x?echo=1", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https")
	if got := resp.Header.Get("X-Echo-X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want it extended", got)
	}
	if got := resp.Header.Get("X-Echo-X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want the trusted peer's https kept", got)
	}
}

func TestRequestIDGeneratedWhenInsane(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	for _, id := range []string{"", "has space", strings.Repeat("x", 129), "semi;colon"} {
		resp, _ := h.get("/x?echo=1", "X-Request-Id", id)
		got := resp.Header.Get("X-Request-Id")
		if got == "" || got == id {
			t.Errorf("client id %q: response id %q, want a fresh one", id, got)
		}
		if up := resp.Header.Get("X-Echo-X-Request-Id"); up != got {
			t.Errorf("client id %q: backend saw %q, client got %q", id, up, got)
		}
	}
}

// TestChunkedResponseStreams: the first chunk must reach the client while the
// backend is still holding the rest back.
func TestChunkedResponseStreams(t *testing.T) {
	release := make(chan struct{})
	up := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "second\n")
	})
	h := startProxy(t, routeConf("/", up))
	resp, err := client.Get(h.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	got := make(chan string, 1)
	go func() {
		n, _ := io.ReadFull(resp.Body, buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		if s != "first\n" {
			t.Fatalf("first chunk = %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first chunk did not arrive while the backend held the rest: the response is buffered")
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second\n" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestUpstreamFailureStatuses(t *testing.T) {
	slow := backend(t, fakebackend.Options{Name: "slow", Delay: 2 * time.Second})
	dead := deadPort(t)
	conf := "[upstream]\nread_timeout = \"200ms\"\n[retry]\nmax_attempts = 1\n" +
		"[health]\ninterval = \"1h\"\n" +
		routeConf("/slow", slow) + routeConf("/dead", dead)
	h := startProxy(t, conf)
	start := time.Now()
	resp, body := h.get("/slow/x")
	if resp.StatusCode != 504 {
		t.Errorf("stalled backend: %d, want 504", resp.StatusCode)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("504 took %v, want about read_timeout", el)
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Errorf("error body %q leaks a backend address", body)
	}
	resp, body = h.get("/dead/x")
	if resp.StatusCode != 502 || strings.Contains(body, "127.0.0.1") {
		t.Errorf("refused backend: %d %q, want 502 without the address", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("proxy's own 502 has no X-Request-Id")
	}
}

func TestNoHealthyBackendIs503(t *testing.T) {
	sick := backend(t, fakebackend.Options{Name: "sick", HealthStatus: 500})
	conf := "[health]\ninterval = \"50ms\"\nfailure_threshold = 1\n" + routeConf("/", sick)
	h := startProxy(t, conf)
	eventually(t, 5*time.Second, "backend never became unhealthy", func() bool {
		return !h.inRotation(0, 0)
	})
	start := time.Now()
	resp, _ := h.get("/x")
	if resp.StatusCode != 503 {
		t.Fatalf("no healthy backend: %d, want 503", resp.StatusCode)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("503 took %v, want at once", el)
	}
}

func TestOwnEndpoints(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, routeConf("/api", a))
	resp, body := h.get("/health")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("/health = %d %q", resp.StatusCode, body)
	}
	resp, body = h.get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "ferrum") {
		t.Errorf("/ = %d %q, want the status message", resp.StatusCode, body)
	}
	eventually(t, 5*time.Second, "first probe never recorded", func() bool {
		return h.tree.Routes()[0].Backend(0).Snapshot().LastCheck != nil
	})
	resp, body = h.get("/health/backends")
	var doc struct {
		Routes []struct {
			PathPrefix string `json:"path_prefix"`
			Balancing  string `json:"balancing"`
			Backends   []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health/backends = %d %q: %v", resp.StatusCode, body, err)
	}
	if len(doc.Routes) != 1 || doc.Routes[0].PathPrefix != "/api" || doc.Routes[0].Balancing != "round_robin" {
		t.Fatalf("routes = %+v", doc.Routes)
	}
	be := doc.Routes[0].Backends[0]
	for _, k := range []string{"url", "healthy", "state", "consecutive_failures", "consecutive_successes", "ejected_until", "ejections", "inflight", "last_check", "last_transition"} {
		if _, ok := be[k]; !ok {
			t.Errorf("backend entry lacks %q: %v", k, be)
		}
	}
	if be["state"] != "healthy" || be["url"] != a {
		t.Errorf("backend entry = %v", be)
	}
	_, body = h.get("/health/backends", "Accept", "text/plain")
	if strings.TrimSpace(body) != a+" healthy" {
		t.Errorf("text form = %q, want %q", body, a+" healthy")
	}
	h.p.StartDrain()
	resp, body = h.get("/health")
	if resp.StatusCode != 503 || strings.TrimSpace(body) != `{"status":"draining"}` {
		t.Errorf("/health while draining = %d %q", resp.StatusCode, body)
	}
	// The proxy's own answers carry the request's id like proxied ones.
	for _, path := range []string{"/health", "/", "/health/backends", "/metrics"} {
		if resp, _ := h.get(path, "X-Request-Id", "own-1"); resp.Header.Get("X-Request-Id") != "own-1" {
			t.Errorf("%s: X-Request-Id %q, want the client's own-1", path, resp.Header.Get("X-Request-Id"))
		}
		if resp, _ := h.get(path); !headers.ValidRequestID(resp.Header.Get("X-Request-Id")) {
			t.Errorf("%s: X-Request-Id %q, want a generated one", path, resp.Header.Get("X-Request-Id"))
		}
	}
}

func TestRootGoesToCatchAllRoute(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "root"})))
	resp, _ := h.get("/")
	if resp.Header.Get("X-Backend") != "root" {
		t.Fatalf("GET / with a catch-all route did not reach it")
	}
}

func TestRequestIDSurvivesConnectionNamingIt(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	resp, _, _, _ := h.raw("GET /x?echo=1 HTTP/1.1\r\nHost: x\r\nConnection: X-Request-Id\r\nX-Request-Id: keep-me\r\n\r\n")
	if got := resp.Header.Get("X-Echo-X-Request-Id"); got != "keep-me" {
		t.Errorf("backend got X-Request-Id %q, want the client's keep-me even though Connection named it", got)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "keep-me" {
		t.Errorf("client got X-Request-Id %q, want keep-me", got)
	}
}

// TestDrainAnswersCarryConnectionClose: from the first moment of a drain,
// every answer (proxied or ferrum's own) says Connection: close and its
// connection is closed after it, so a keep-alive client moves elsewhere.
func TestDrainAnswersCarryConnectionClose(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(path string) *http.Response {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := ask("/x"); resp.Close {
		t.Fatal("an answer before the drain closes the connection")
	}
	h.p.StartDrain()
	if resp := ask("/x"); !resp.Close || resp.StatusCode != 200 {
		t.Fatalf("proxied answer during the drain: %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); !closedByPeer(err) {
		t.Fatalf("connection still open after a drain answer (%v)", err)
	}
	resp, _ := h.get("/health")
	if resp.StatusCode != 503 || !resp.Close {
		t.Fatalf("/health during the drain: %d, close %v; want 503 with Connection: close", resp.StatusCode, resp.Close)
	}
}
