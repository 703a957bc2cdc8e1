package proxy

import (
	"bytes"
	"context"

	"net"
	"strconv"
	"strings"
	"testing"

	"ferrum/actors"
	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// The benchmarks drive a real ferrum on loopback with a client and a
// backend that allocate nothing, so allocs/op and B/op are the proxy's own.

// cannedBackend answers every request on every connection with a canned
// answer of bodyBytes bytes, reading the request head (and a body of the
// declared length) without allocating. It serves until the benchmark ends.
func cannedBackend(tb testing.TB, bodyBytes int) string {
	tb.Helper()
	return cannedAnswer(tb, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "+strconv.Itoa(bodyBytes)+"\r\n\r\n"+
		strings.Repeat("x", bodyBytes)))
}

// cannedAnswer is cannedBackend with the whole answer given.
func cannedAnswer(tb testing.TB, answer []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRaw(c, answer)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveRaw(c net.Conn, answer []byte) {
	defer c.Close()
	buf := make([]byte, 128<<10)
	have := 0
	for {
		end := bytes.Index(buf[:have], []byte("\r\n\r\n"))
		for end < 0 {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			end = bytes.Index(buf[:have], []byte("\r\n\r\n"))
		}
		need := end + 4 + declaredLength(buf[:end])
		for have < need {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
		}
		copy(buf, buf[need:have])
		have -= need
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

// declaredLength finds Content-Length in a head, 0 without one.
func declaredLength(head []byte) int {
	i := bytes.Index(head, []byte("Content-Length: "))
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range head[i+16:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// benchServer runs ferrum on conf over loopback and returns its address.
func benchServer(b testing.TB, conf string) string {
	b.Helper()
	cfg, err := proxyconf.Parse("bench.toml", []byte(conf), nil)
	if err != nil {
		b.Fatal(err)
	}
	sup := supervisor.New(quiet, supervisor.DefaultPolicy)
	tree, err := actors.StartTree(context.Background(), sup, quiet, cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := NewServer(Options{Log: quiet, Version: "bench", Metrics: NewMetrics("bench", nil), Config: cfg, Tree: tree})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done; s.Close(); sup.Shutdown() })
	return ln.Addr().String()
}

// rawClient sends request on one kept-alive connection and reads each
// answer whole, allocating nothing per exchange.
type rawClient struct {
	c    net.Conn
	buf  []byte
	have int
}

func dialRaw(b testing.TB, addr string) *rawClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &rawClient{c: c, buf: make([]byte, 1<<20)}
}

// do sends request (and body) and reads one answer, of a declared length
// or chunked in one chunk; it returns its status digits' first byte ('2'
// for 2xx).
func (rc *rawClient) do(b testing.TB, request, body []byte) byte {
	if _, err := rc.c.Write(request); err != nil {
		b.Fatal(err)
	}
	if len(body) > 0 {
		if _, err := rc.c.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	end := bytes.Index(rc.buf[:rc.have], []byte("\r\n\r\n"))
	for end < 0 {
		n, err := rc.c.Read(rc.buf[rc.have:])
		if err != nil {
			b.Fatal(err)
		}
		rc.have += n
		end = bytes.Index(rc.buf[:rc.have], []byte("\r\n\r\n"))
	}
	status := rc.buf[9]
	need := end + 4 + declaredLength(rc.buf[:end])
	if bytes.Contains(rc.buf[:end], []byte("Transfer-Encoding: chunked")) {
		last := bytes.Index(rc.buf[end:rc.have], []byte("\r\n0\r\n\r\n"))
		for last < 0 {
			n, err := rc.c.Read(rc.buf[rc.have:])
			if err != nil {
				b.Fatal(err)
			}
			rc.have += n
			last = bytes.Index(rc.buf[end:rc.have], []byte("\r\n0\r\n\r\n"))
		}
		need = end + last + 7
	}
	for rc.have < need {
		n, err := rc.c.Read(rc.buf[rc.have:])
		if err != nil {
			b.Fatal(err)
		}
		rc.have += n
	}
	copy(rc.buf, rc.buf[need:rc.have])
	rc.have -= need
	return status
}

// BenchmarkProxyRequest is one whole proxied GET (1 KiB answer), proxy side
// only: parse, route actor pick, pooled upstream exchange, answer, metrics.
func BenchmarkProxyRequest(b *testing.B) {
	up := cannedBackend(b, 1024)
	addr := benchServer(b, "[health]\ninterval = \"1h\"\n"+routeConf("/api", up))
	rc := dialRaw(b, addr)
	req := []byte("GET /api/users?page=2 HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\n" +
		"Cookie: session=abc123\r\nConnection: keep-alive\r\n\r\n")
	rc.do(b, req, nil) // warm the upstream pool
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if s := rc.do(b, req, nil); s != '2' {
			b.Fatalf("status %cxx", s)
		}
	}
}

// BenchmarkProxyUpload is one whole proxied POST of a 64 KiB body.
func BenchmarkProxyUpload(b *testing.B) {
	up := cannedBackend(b, 16)
	addr := benchServer(b, "[health]\ninterval = \"1h\"\n"+routeConf("/api", up))
	rc := dialRaw(b, addr)
	body := bytes.Repeat([]byte("ferrum"), 64<<10/6+1)[:64<<10]
	req := []byte("POST /api/upload HTTP/1.1\r\nHost: bench.example\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	rc.do(b, req, body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		if s := rc.do(b, req, body); s != '2' {
			b.Fatalf("status %cxx", s)
		}
	}
}

// BenchmarkProxyLargeResponse is one proxied GET of a 256 KiB answer.
func BenchmarkProxyLargeResponse(b *testing.B) {
	up := cannedBackend(b, 256<<10)
	addr := benchServer(b, "[health]\ninterval = \"1h\"\n"+routeConf("/api", up))
	rc := dialRaw(b, addr)
	req := []byte("GET /api/big HTTP/1.1\r\nHost: bench.example\r\n\r\n")
	rc.do(b, req, nil)
	b.ReportAllocs()
	b.SetBytes(256 << 10)
	b.ResetTimer()
	for b.Loop() {
		if s := rc.do(b, req, nil); s != '2' {
			b.Fatalf("status %cxx", s)
		}
	}
}

// BenchmarkProxyRequestRoutes is BenchmarkProxyRequest from 64 clients at
// once, their GETs spread over 500 paths: to one catch-all route (routes=1)
// or to 500 routes over the same backend (routes=500). The gap between the
// two is what a route costs when each one is seldom hit.
func BenchmarkProxyRequestRoutes(b *testing.B) {
	const paths = 500
	for _, routes := range []int{1, paths} {
		b.Run("routes="+strconv.Itoa(routes), func(b *testing.B) {
			up := cannedBackend(b, 1024)
			var conf strings.Builder
			conf.WriteString("[health]\ninterval = \"1h\"\n")
			if routes == 1 {
				conf.WriteString(routeConf("/", up))
			}
			for i := 0; i < routes && routes > 1; i++ {
				conf.WriteString(routeConf("/r"+strconv.Itoa(i), up))
			}
			addr := benchServer(b, conf.String())
			reqs := make([][]byte, paths)
			for i := range reqs {
				reqs[i] = []byte("GET /r" + strconv.Itoa(i) + "/item HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\n\r\n")
			}
			clients := make(chan *rawClient, 64)
			for range cap(clients) {
				clients <- dialRaw(b, addr)
			}
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rc := <-clients
				n := len(clients) * 7
				for pb.Next() {
					n = (n + 1) % paths
					if s := rc.do(b, reqs[n], nil); s != '2' {
						b.Errorf("status %cxx", s)
						return
					}
				}
			})
		})
	}
}

// TestProxiedRequestAllocations counts what a whole proxied request
// allocates: a GET with an answer of a declared length and with a chunked
// one (which ferrum frames chunk by chunk), and a POST with a 16 KiB body.
// The path as a string for route matching, and nothing else, give or take
// a stray allocation of the runtime's.
func TestProxiedRequestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	body := strings.Repeat("x", 1024)
	get := "GET /api/users?page=2 HTTP/1.1\r\nHost: alloc.example\r\n\r\n"
	upload := strings.Repeat("u", 16<<10)
	cases := []struct {
		name    string
		answer  string
		request string
		body    string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + body, get, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + body + "\r\n0\r\n\r\n", get, ""},
		{"upload", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			"POST /api/upload HTTP/1.1\r\nHost: alloc.example\r\nContent-Length: 16384\r\n\r\n", upload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := cannedAnswer(t, []byte(c.answer))
			rc := dialRaw(t, benchServer(t, "[health]\ninterval = \"1h\"\n"+routeConf("/api", up)))
			req, body := []byte(c.request), []byte(c.body)
			rc.do(t, req, body)
			n := testing.AllocsPerRun(200, func() {
				if s := rc.do(t, req, body); s != '2' {
					t.Fatalf("status %cxx", s)
				}
			})
			if n > 1 {
				t.Errorf("%v allocations per proxied request, want at most 1", n)
			}
		})
	}
}
