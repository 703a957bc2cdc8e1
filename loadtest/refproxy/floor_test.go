package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// startFloor serves the floor mode over backends on a loopback port and
// returns its base URL.
func startFloor(t *testing.T, backends ...*httptest.Server) string {
	t.Helper()
	addrs := make([]string, len(backends))
	for i, b := range backends {
		addrs[i] = strings.TrimPrefix(b.URL, "http://")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- newFloor(addrs).serve(ln) }()
	t.Cleanup(func() { ln.Close(); <-served })
	return "http://" + ln.Addr().String()
}

// TestFloorPassesBytes: the floor mode takes backends in turn on kept
// connections, passes request bodies both ways, answers /health itself and
// refuses with a 502 the framing it does not handle.
func TestFloorPassesBytes(t *testing.T) {
	echo := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stream" {
				w.Write([]byte("part"))
				w.(http.Flusher).Flush() // chunked: not for the floor
				return
			}
			body, _ := io.ReadAll(r.Body)
			answer := name + " " + r.Method + " " + string(body)
			w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
			io.WriteString(w, answer)
		}))
		t.Cleanup(s.Close)
		return s
	}
	base := startFloor(t, echo("a"), echo("b"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()

	cases := []struct {
		method, path, body string
		chunked            bool
		status             int
		want               string
	}{
		{"GET", "/x", "", false, 200, "a GET "},
		{"GET", "/x", "", false, 200, "b GET "},
		{"POST", "/x", "hello", false, 200, "a POST hello"},
		{"POST", "/x", strings.Repeat("z", 40<<10), false, 200, "b POST " + strings.Repeat("z", 40<<10)},
		{"GET", "/health", "", false, 200, "ok\n"},
		{"POST", "/x", "hello", true, 502, ""},
		{"GET", "/stream", "", false, 502, ""},
	}
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
			if c.chunked {
				body = io.MultiReader(body) // no known length: sent chunked
			}
		}
		req, err := http.NewRequest(c.method, base+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s (chunked %v): %v", c.method, c.path, c.chunked, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.want != "" && string(got) != c.want) {
			t.Errorf("%s %s (chunked %v) = %d %.40q, want %d %.40q", c.method, c.path, c.chunked, resp.StatusCode, got, c.status, c.want)
		}
	}
}
