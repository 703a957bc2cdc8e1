package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ferrum/proxyconf"
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
	if err := checkFree("x.toml", taken); err == nil || !strings.Contains(err.Error(), "already in use") ||
		!strings.Contains(err.Error(), "x.toml: server.listen") {
		t.Errorf("checkFree(%s) with a server there = %v, want an in-use error naming x.toml: server.listen", taken, err)
	}
	if free := closedAddr(t); checkFree("x.toml", free) != nil {
		t.Errorf("checkFree(%s) with nothing there = %v, want nil", free, checkFree("x.toml", free))
	}
}

func TestBanner(t *testing.T) {
	info := demoInfo{
		base:     "http://127.0.0.1:8080",
		config:   "/src/ferrum/ferrum.toml",
		backends: []backendSpec{{name: "api-3001", addr: "127.0.0.1:3001"}},
		down:     []string{"127.0.0.1:3003"},
	}
	b := banner(info, 4242, 4141)
	for _, want := range []string{
		"ferrum is up at http://127.0.0.1:8080 (pid 4242), on /src/ferrum/ferrum.toml",
		"api-3001 (127.0.0.1:3001)",
		"down on purpose (the demo does not start them): 127.0.0.1:3003",
		"curl -i http://127.0.0.1:8080/api/users",
		"curl -i http://127.0.0.1:8080/static/logo.png",
		"curl -i http://127.0.0.1:8080/health/backends",
		"curl -i http://127.0.0.1:8080/metrics",
		"Reload: edit /src/ferrum/ferrum.toml, then",
		"kill -HUP 4242 ",
		"kill -HUP 4141 ",
		"Stop: Ctrl-C, or kill 4141",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
}

func TestParseFlags(t *testing.T) {
	opts, err := parseFlags([]string{"-config", "x.toml", "-ferrum-bin", "/bin/ferrum", "-backends", "a=127.0.0.1:1,b=[::1]:2"}, io.Discard)
	want := options{config: "x.toml", ferrumBin: "/bin/ferrum",
		backends: []backendSpec{{name: "a", addr: "127.0.0.1:1"}, {name: "b", addr: "[::1]:2"}}}
	if err != nil || !reflect.DeepEqual(opts, want) {
		t.Errorf("parseFlags = %+v, %v; want %+v", opts, err, want)
	}
	opts, err = parseFlags(nil, io.Discard)
	if err != nil || !reflect.DeepEqual(opts.backends, mustParseBackends(defaultBackends)) || len(opts.backends) != 3 {
		t.Errorf("parseFlags() = %+v, %v; want the three default backends", opts, err)
	}
	if _, err := parseFlags([]string{"ferrum.toml"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-config ferrum.toml") {
		t.Errorf("parseFlags(ferrum.toml) = %v, want a hint to pass -config", err)
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestParseBackends(t *testing.T) {
	tests := []struct {
		in      string
		want    []backendSpec
		wantErr string
	}{
		{in: "a=127.0.0.1:1", want: []backendSpec{{name: "a", addr: "127.0.0.1:1"}}},
		{in: "a=127.0.0.1:1, b=127.0.0.1:2", want: []backendSpec{{name: "a", addr: "127.0.0.1:1"}, {name: "b", addr: "127.0.0.1:2"}}},
		{in: "", wantErr: "want name=host:port"},
		{in: "127.0.0.1:1", wantErr: "want name=host:port"},
		{in: "a=3001", wantErr: "want name=host:port"},
		{in: "a=127.0.0.1:1,", wantErr: "want name=host:port"},
		{in: "a=127.0.0.1:1,a=127.0.0.1:2", wantErr: "given twice"},
		{in: "a=127.0.0.1:1,b=127.0.0.1:1", wantErr: "given twice"},
	}
	for _, tt := range tests {
		got, err := parseBackends(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || !reflect.DeepEqual(got, tt.want)):
			t.Errorf("parseBackends(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseBackends(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestNotStarted(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := proxyconf.Load(filepath.Join(root, "ferrum.toml"))
	if err != nil {
		t.Fatal(err)
	}
	got := notStarted(cfg, mustParseBackends(defaultBackends))
	if want := []string{"127.0.0.1:3003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("notStarted(ferrum.toml, default backends) = %q, want %q", got, want)
	}
	if got := notStarted(cfg, nil); len(got) != 4 {
		t.Errorf("notStarted(ferrum.toml, none) = %q, want all four backends", got)
	}
}
