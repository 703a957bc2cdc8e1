package main

import (
	"bufio"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// namedBackend answers every request with its name, the Host it was sent
// and the X-Forwarded-For it got, one per line.
func namedBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+"\n"+r.Host+"\n"+r.Header.Get("X-Forwarded-For")+"\n")
	}))
	t.Cleanup(s.Close)
	return s
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestRoundRobin(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	backends, err := parseBackends(a.URL + "," + b.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(newHandler(backends, log.New(io.Discard, "", 0)))
	defer proxy.Close()
	front := strings.TrimPrefix(proxy.URL, "http://")

	var got []string
	for range 4 {
		status, body := get(t, proxy.URL+"/bench")
		if status != http.StatusOK {
			t.Fatalf("GET /bench: status %d, want 200", status)
		}
		lines := strings.Split(body, "\n")
		if len(lines) < 3 {
			t.Fatalf("GET /bench: body %q, want three lines", body)
		}
		if lines[1] != front {
			t.Errorf("backend saw Host %q, want the client's %q", lines[1], front)
		}
		if lines[2] != "127.0.0.1" {
			t.Errorf("backend saw X-Forwarded-For %q, want 127.0.0.1", lines[2])
		}
		got = append(got, lines[0])
	}
	if s := strings.Join(got, " "); s != "a b a b" {
		t.Errorf("backends in turn = %q, want \"a b a b\"", s)
	}
}

func TestHealthIsAnsweredHere(t *testing.T) {
	// A backend that is never reached: /health must not go to it.
	dead := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	proxy := httptest.NewServer(newHandler([]*url.URL{dead}, log.New(io.Discard, "", 0)))
	defer proxy.Close()
	if status, body := get(t, proxy.URL+"/health"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /health = %d %q, want 200 \"ok\\n\"", status, body)
	}
	if status, _ := get(t, proxy.URL+"/bench"); status != http.StatusBadGateway {
		t.Errorf("GET /bench to a closed port = %d, want 502", status)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-backends", "http://127.0.0.1:3001, http://127.0.0.1:3002,"}, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if cfg.listen != "127.0.0.1:0" || len(cfg.backends) != 2 || cfg.backends[1].Host != "127.0.0.1:3002" {
		t.Errorf("parseFlags = %+v, want two backends on 127.0.0.1:0", cfg)
	}
	if cfg, err := parseFlags([]string{"-version"}, io.Discard); err != nil || !cfg.version {
		t.Errorf("parseFlags(-version) = %+v, %v; want version and no error", cfg, err)
	}
	for _, bad := range [][]string{
		nil,
		{"-backends", ","},
		{"-backends", "127.0.0.1:3001"},
		{"-backends", "ftp://127.0.0.1:3001"},
		{"-backends", "http://"},
		{"-backends", "http://127.0.0.1:3001", "extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) = nil error, want one", bad)
		}
	}
}

func TestRunServesAndStops(t *testing.T) {
	a := namedBackend(t, "a")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, stdout := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-backends", a.URL}, stdout, io.Discard)
		stdout.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "refproxy listening on ")
	if !ok {
		t.Fatalf("first line = %q, want \"refproxy listening on ADDR\"", line)
	}
	if status, body := get(t, "http://"+addr+"/x"); status != http.StatusOK || !strings.HasPrefix(body, "a\n") {
		t.Errorf("GET /x through run = %d %q, want 200 from a", status, body)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("run returned %d after its context ended, want 0", c)
		}
	case <-time.After(shutdownGrace + 2*time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
