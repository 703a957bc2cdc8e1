package proxy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"ferrum/actors"
	"ferrum/loadtest/fakebackend"
	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// benchProxy builds a proxy over two loopback backends, with a real metrics
// registry, without a listener: requests go straight to ServeHTTP.
func benchProxy(b *testing.B) *Proxy {
	b.Helper()
	var urls []string
	for _, name := range []string{"a", "b"} {
		s := httptest.NewServer(fakebackend.Handler(fakebackend.Options{Name: name, BodyBytes: 1024}))
		b.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	cfg, err := proxyconf.Parse("bench.toml", []byte("[health]\ninterval = \"1h\"\n"+routeConf("/api", urls...)), nil)
	if err != nil {
		b.Fatal(err)
	}
	sup := supervisor.New(quiet, supervisor.DefaultPolicy)
	tree, err := actors.StartTree(context.Background(), sup, quiet, cfg)
	if err != nil {
		b.Fatal(err)
	}
	pools := NewPools()
	b.Cleanup(func() { pools.CloseIdle(); sup.Shutdown() })
	m := NewMetrics("bench", nil)
	return New(quiet, "bench", BuildTable(cfg, tree, pools, m), m)
}

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the proxy rather than a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

// BenchmarkProxyRequest is one whole proxied GET (1 KiB answer) through the
// handler, the route actor and a pooled upstream connection.
func BenchmarkProxyRequest(b *testing.B) {
	p := benchProxy(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "/api/users", nil)
		req.RemoteAddr = "127.0.0.1:40000"
		w := &discard{h: http.Header{}}
		p.ServeHTTP(w, req)
	}
}

// BenchmarkCleanRequest is header hygiene and X-Forwarded-* for a typical
// browser request.
func BenchmarkCleanRequest(b *testing.B) {
	m := NewMetrics("bench", nil)
	p := New(quiet, "bench", &Table{cfg: &proxyconf.Config{}}, m)
	t := p.Table()
	id := []string{"req-1"}
	base := http.Header{
		"Accept": {"text/html"}, "Accept-Language": {"en"}, "User-Agent": {"bench"},
		"Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"}, "Cookie": {"a=1"},
		"X-Forwarded-For": {"10.0.0.1"},
	}
	req := httptest.NewRequest(http.MethodGet, "/api/users", nil)
	req.RemoteAddr = "192.0.2.1:40000"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		req.Header = base.Clone()
		p.cleanRequest(req, t, id)
	}
}

// BenchmarkProxyUpload is one whole proxied POST of a 64 KiB body.
func BenchmarkProxyUpload(b *testing.B) {
	p := benchProxy(b)
	body := bytes.Repeat([]byte("ferrum"), 64<<10/6+1)[:64<<10]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/upload", bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:40000"
		w := &discard{h: http.Header{}}
		p.ServeHTTP(w, req)
	}
}
