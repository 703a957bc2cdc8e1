package fakebackend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func newTestServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer(o)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestLargeBodyOverNetwork(t *testing.T) {
	const size = 1<<20 + 7 // not a multiple of the filler, to test the tail
	srv := newTestServer(t, Options{Name: "big", BodyBytes: size})
	resp, err := http.Get(srv.URL + "/large")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != size || len(got) != size {
		t.Fatalf("GET /large: Content-Length %d, %d bytes read, want %d", resp.ContentLength, len(got), size)
	}
	if want := wantBody("big", size); string(got) != want {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("GET /large: body differs from byte %d: %.20q, want %.20q", i, got[i:], want[i:])
	}
}

// unsized hides the length of a reader, so the client sends it chunked.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestUploadSHA256(t *testing.T) {
	srv := newTestServer(t, Options{Name: "up"})
	payload := make([]byte, 300<<10+3)
	rand.Read(payload)
	sum := sha256Hex(string(payload))

	tests := []struct {
		name    string
		body    io.Reader
		chunked bool
	}{
		{"content length", bytes.NewReader(payload), false},
		{"chunked", unsized{bytes.NewReader(payload)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/upload?echo=1", "application/octet-stream", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Request-Bytes"); got != "307203" {
				t.Errorf("POST /upload: X-Request-Bytes = %q, want %q", got, "307203")
			}
			if got := resp.Header.Get("X-Request-Sha256"); got != sum {
				t.Errorf("POST /upload: X-Request-Sha256 = %q, want %q", got, sum)
			}
			te := resp.Header.Get("X-Echo-Transfer-Encoding")
			if tt.chunked != (te == "chunked") {
				t.Errorf("POST /upload: X-Echo-Transfer-Encoding = %q, chunked upload %v", te, tt.chunked)
			}
		})
	}
}

func TestEchoOverNetwork(t *testing.T) {
	srv := newTestServer(t, Options{Name: "echo"})
	req, err := http.NewRequest("GET", srv.URL+"/a%2Fb/c?echo=1&q=%20", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "front.example"
	req.Header.Add("X-Forwarded-For", "10.0.0.1")
	req.Header.Add("X-Forwarded-For", "10.0.0.2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range map[string]string{
		"X-Seen-Path": "/a%2Fb/c?echo=1&q=%20",
		"X-Seen-Host": "front.example",
		"X-Backend":   "echo",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("GET: %s = %q, want %q", name, got, want)
		}
	}
	if got := resp.Header.Values("X-Echo-X-Forwarded-For"); len(got) != 2 || got[0] != "10.0.0.1" || got[1] != "10.0.0.2" {
		t.Errorf("GET: X-Echo-X-Forwarded-For = %q, want both values in order", got)
	}
}

func TestChunksAreFlushedOverNetwork(t *testing.T) {
	srv := newTestServer(t, Options{Name: "stream"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The second chunk is an hour away: the first can only arrive if it was
	// flushed on its own.
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/sse?chunks=2&interval=1h", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "stream\n" {
		t.Fatalf("first chunk: %q, %v; want %q", line, err, "stream\n")
	}
	if resp.ContentLength != -1 {
		t.Errorf("chunked answer: Content-Length %d, want none", resp.ContentLength)
	}
}

// flushRecorder is a ResponseWriter that a test may read while the handler
// writes: body and flushes are guarded by mu.
type flushRecorder struct {
	header  http.Header
	mu      sync.Mutex
	status  int
	body    bytes.Buffer
	flushes int
}

func newFlushRecorder() *flushRecorder { return &flushRecorder{header: make(http.Header)} }

func (f *flushRecorder) Header() http.Header { return f.header }

func (f *flushRecorder) WriteHeader(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

func (f *flushRecorder) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == 0 {
		f.status = 200
	}
	return f.body.Write(b)
}

func (f *flushRecorder) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
}

func (f *flushRecorder) state() (status int, body string, flushes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.body.String(), f.flushes
}

func TestChunksInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newFlushRecorder()
		go Handler(Options{Name: "s"}).ServeHTTP(rec, httptest.NewRequest("GET", "/?chunks=3&interval=2s", nil))
		for i, want := range []string{"s\n", "s\ns\n", "s\ns\ns\n"} {
			if i > 0 {
				time.Sleep(2 * time.Second)
			}
			synctest.Wait()
			if _, body, flushes := rec.state(); body != want || flushes != i+1 {
				t.Errorf("after %d intervals: body %q with %d flushes, want %q with %d", i, body, flushes, want, i+1)
			}
		}
	})
}

func TestDelay(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		target string
		delay  time.Duration
	}{
		{"option", Options{Delay: 3 * time.Second}, "/", 3 * time.Second},
		{"knob overrides option", Options{Delay: 3 * time.Second}, "/?delay=500ms", 500 * time.Millisecond},
		{"knob zero", Options{Delay: 3 * time.Second}, "/?delay=0s", 0},
		{"health knob", Options{Delay: 3 * time.Second}, "/health?delay=1s", time.Second},
		{"health ignores the option", Options{Delay: 3 * time.Second}, "/health", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newFlushRecorder()
				start := time.Now()
				done := make(chan time.Duration)
				go func() {
					Handler(tt.opts).ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
					done <- time.Since(start)
				}()
				if took := <-done; took != tt.delay {
					t.Errorf("GET %s: answered after %v, want %v", tt.target, took, tt.delay)
				}
				if status, _, _ := rec.state(); status != 200 {
					t.Errorf("GET %s: status %d, want 200", tt.target, status)
				}
			})
		})
	}
}

func TestDelayEndsWithRequestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rec := newFlushRecorder()
		req := httptest.NewRequestWithContext(ctx, "GET", "/?delay=1h", nil)
		done := make(chan struct{})
		go func() {
			Handler(Options{}).ServeHTTP(rec, req)
			close(done)
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("GET /?delay=1h answered after a minute")
		default:
		}
		cancel()
		<-done
		if status, body, _ := rec.state(); status != 0 || body != "" {
			t.Errorf("cancelled GET /?delay=1h: wrote status %d body %q, want nothing", status, body)
		}
	})
}
