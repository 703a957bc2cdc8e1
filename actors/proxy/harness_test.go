package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferrum/actors"
	"ferrum/loadtest/fakebackend"
	"ferrum/proxyconf"
	"ferrum/supervisor"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// harness is a real ferrum proxy on a loopback port, with its actors.
type harness struct {
	t     *testing.T
	url   string // http://127.0.0.1:port
	addr  string
	p     *Proxy
	cfg   *proxyconf.Config
	tree  *actors.Tree
	sup   *supervisor.Supervisor
	pools *Pools
}

// startProxy parses conf (TOML) and serves it on 127.0.0.1:0 until the test
// ends.
func startProxy(t *testing.T, conf string) *harness {
	t.Helper()
	return startProxyEnv(t, conf, nil)
}

// startProxyEnv is startProxy with getenv as the environment.
func startProxyEnv(t *testing.T, conf string, getenv func(string) string) *harness {
	t.Helper()
	cfg, err := proxyconf.Parse("test.toml", []byte(conf), getenv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, sup, addr := serveConfig(t, cfg)
	return &harness{t: t, url: "http://" + addr, addr: addr, p: s.Proxy(), cfg: cfg, tree: s.Tree(), sup: sup, pools: s.pools}
}

// backend starts a fake backend on loopback and returns its URL.
func backend(t *testing.T, o fakebackend.Options) string {
	t.Helper()
	s := httptest.NewServer(fakebackend.Handler(o))
	t.Cleanup(s.Close)
	return s.URL
}

// handlerBackend serves h on loopback and returns its URL.
func handlerBackend(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// deadPort returns a loopback URL that refuses connections: its port is
// bound by a socket that never listens, held until the test ends, so no
// other program can take the port meanwhile.
func deadPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

var client = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// get sends a GET and returns the response with its body read.
func (h *harness) get(path string, hdr ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(h.t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// raw sends bytes on a new connection and returns the first response read
// back, and the connection for further use.
func (h *harness) raw(request string) (*http.Response, string, net.Conn, *bufio.Reader) {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		h.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		h.t.Fatalf("read response to %q: %v", firstLine(request), err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), c, br
}

// closedByPeer reports whether a read error means the other side closed
// the connection: end of stream, or a reset when it closed with bytes of
// ours still unread (which net/http does half a second after its FIN).
func closedByPeer(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// eventually polls cond every 20 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inRotation reports whether route ri's actor picks its backend bi now: the
// route's own view, which a backend's snapshot runs a moment ahead of.
func (h *harness) inRotation(ri, bi int) bool {
	h.t.Helper()
	return h.tree.Routes()[ri].Actor().InRotation()[bi]
}

// routeConf renders one [[route]] table for a test config.
func routeConf(prefix string, backends ...string) string {
	q := make([]string, len(backends))
	for i, b := range backends {
		q[i] = fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("[[route]]\npath_prefix = %q\nbackends = [%s]\n", prefix, strings.Join(q, ", "))
}
