package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRootFromGOMOD(t *testing.T) {
	tests := []struct {
		out     string
		want    string
		wantErr bool
	}{
		{out: "/src/ferrum/go.mod\n", want: "/src/ferrum"},
		{out: "/src/ferrum/go.mod", want: "/src/ferrum"},
		{out: "\n", wantErr: true},
		{out: os.DevNull + "\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := rootFromGOMOD(tt.out)
		if tt.wantErr != (err != nil) || got != filepath.FromSlash(tt.want) {
			t.Errorf("rootFromGOMOD(%q) = %q, %v; want %q, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(gomod), "module ferrum\n") {
		t.Errorf("moduleRoot() = %q: go.mod there does not declare module ferrum (%v)", root, err)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{":8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:9090", "http://127.0.0.1:9090"},
		{"[::]:8080", "http://127.0.0.1:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"localhost:8080", "http://localhost:8080"},
		{"8080", ""},
	}
	for _, tt := range tests {
		got, err := baseURL(tt.addr)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("baseURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

// healthAfter answers /health 503 for the first n requests, then 200.
func healthAfter(n int32) http.Handler {
	var seen atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWaitHealthy(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name    string
		handler http.Handler // nil: nothing listens
		timeout time.Duration
		wantErr string // "" means healthy
	}{
		{"healthy at once", healthAfter(0), 10 * time.Second, ""},
		{"healthy after a few 503s", healthAfter(3), 10 * time.Second, ""},
		{"never healthy", healthAfter(1 << 30), time.Second, "status 503"},
		{"nothing listens", nil, 50 * time.Millisecond, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://" + down + "/health"
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				url = srv.URL + "/health"
			}
			err := waitHealthy(t.Context(), url, tt.timeout, time.Millisecond)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("waitHealthy(%s) = %v, want nil", url, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("waitHealthy(%s) = %v, want an error containing %q", url, err, tt.wantErr)
			}
		})
	}
}

func TestWaitHealthyEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	err := waitHealthy(ctx, "http://"+closedAddr(t)+"/health", time.Hour, time.Hour)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("waitHealthy with a cancelled context = %v after %v, want an error at once", err, time.Since(start))
	}
}

func TestStartBackends(t *testing.T) {
	specs := []backendSpec{{name: "api-a", addr: closedAddr(t)}, {name: "api-b", addr: closedAddr(t)}}
	bs, err := startBackends(specs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		resp, err := http.Get("http://" + s.addr + "/api/users")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Backend"); resp.StatusCode != 200 || got != s.name {
			t.Errorf("GET %s: status %d X-Backend %q, want 200 %q", s.addr, resp.StatusCode, got, s.name)
		}
	}
	bs.stop()
	for _, s := range specs {
		if conn, err := net.Dial("tcp", s.addr); err == nil {
			conn.Close()
			t.Errorf("backend %s still accepts connections after stop", s.name)
		}
	}
}

func TestStartBackendsPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := closedAddr(t)
	_, port, _ := net.SplitHostPort(busy.Addr().String())

	_, err = startBackends([]backendSpec{{name: "a", addr: free}, {name: "b", addr: busy.Addr().String()}}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "port "+port+" is already in use") {
		t.Fatalf("startBackends with port %s taken = %v, want it named as in use", port, err)
	}
	// The backend started before the failure must not keep its port.
	ln, err := net.Listen("tcp", free)
	if err != nil {
		t.Fatalf("port of the first backend still taken after the failed start: %v", err)
	}
	ln.Close()
}

func TestCheckFree(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	taken := srv.Listener.Addr().String()
	if err := checkFree(taken); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("checkFree(%s) with a server there = %v, want an in-use error", taken, err)
	}
	if free := closedAddr(t); checkFree(free) != nil {
		t.Errorf("checkFree(%s) with nothing there = %v, want nil", free, checkFree(free))
	}
}

func TestBanner(t *testing.T) {
	b := banner("http://127.0.0.1:8080")
	for _, want := range []string{
		"curl -i http://127.0.0.1:8080/api/users",
		"curl -i http://127.0.0.1:8080/static/logo.png",
		"curl -i http://127.0.0.1:8080/health/backends",
		"curl -i http://127.0.0.1:8080/metrics",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
}

func TestParseFlags(t *testing.T) {
	opts, err := parseFlags([]string{"-config", "x.toml", "-ferrum-bin", "/bin/ferrum", "-proxy", ":9000"}, io.Discard)
	if err != nil || opts != (options{config: "x.toml", ferrumBin: "/bin/ferrum", proxy: ":9000"}) {
		t.Errorf("parseFlags = %+v, %v", opts, err)
	}
	if _, err := parseFlags([]string{"-proxy", "9000"}, io.Discard); err == nil {
		t.Error("parseFlags(-proxy 9000) = nil error, want host:port required")
	}
}
