package fakebackend

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// wantBody builds, independently of writeBody, the body a backend named name
// answers for bodyBytes.
func wantBody(name string, bodyBytes int) string {
	line := name + "\n"
	if bodyBytes == 0 {
		return line
	}
	if bodyBytes <= len(line) {
		return line[:bodyBytes]
	}
	var b strings.Builder
	b.WriteString(line)
	for i := 0; b.Len() < bodyBytes; i++ {
		b.WriteByte(fillerPattern[i%len(fillerPattern)])
	}
	return b.String()
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestHandlerKnobs(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		method   string
		target   string
		body     string
		status   int
		wantBody string
		header   map[string]string // "" value: header must be absent
	}{
		{
			name: "defaults", opts: Options{Name: "b1"}, target: "/api/users?x=1",
			status: 200, wantBody: "b1\n",
			header: map[string]string{
				"X-Backend": "b1", "Content-Type": "text/plain", "Content-Length": "3",
				"X-Request-Bytes": "0", "X-Request-Sha256": sha256Hex(""),
				"X-Seen-Path": "/api/users?x=1", "X-Seen-Host": "example.com",
			},
		},
		{
			name: "status option", opts: Options{Name: "b1", Status: 201}, target: "/",
			status: 201, wantBody: "b1\n",
		},
		{
			name: "status knob", opts: Options{Name: "b1", Status: 201}, target: "/?status=502",
			status: 502, wantBody: "b1\n",
		},
		{
			name: "status knob 204 has no body", opts: Options{Name: "b1"}, target: "/?status=204",
			status: 204, wantBody: "", header: map[string]string{"Content-Length": "", "X-Backend": "b1"},
		},
		{
			name: "bytes option", opts: Options{Name: "b1", BodyBytes: 100}, target: "/",
			status: 200, wantBody: wantBody("b1", 100), header: map[string]string{"Content-Length": "100"},
		},
		{
			name: "bytes knob", opts: Options{Name: "b1", BodyBytes: 100}, target: "/?bytes=70000",
			status: 200, wantBody: wantBody("b1", 70000), header: map[string]string{"Content-Length": "70000"},
		},
		{
			name: "bytes knob zero means name line", opts: Options{Name: "b1", BodyBytes: 100}, target: "/?bytes=0",
			status: 200, wantBody: "b1\n", header: map[string]string{"Content-Length": "3"},
		},
		{
			name: "bytes shorter than name line", opts: Options{Name: "backend"}, target: "/?bytes=4",
			status: 200, wantBody: "back", header: map[string]string{"Content-Length": "4"},
		},
		{
			name: "head has length but no body", opts: Options{Name: "b1", BodyBytes: 50}, method: "HEAD", target: "/",
			status: 200, wantBody: "", header: map[string]string{"Content-Length": "50"},
		},
		{
			name: "request body counted and hashed", opts: Options{Name: "b1"}, method: "POST", target: "/up",
			body: "hello ferrum", status: 200, wantBody: "b1\n",
			header: map[string]string{"X-Request-Bytes": "12", "X-Request-Sha256": sha256Hex("hello ferrum")},
		},
		{
			name: "echo", opts: Options{Name: "b1"}, target: "/?echo=1",
			status: 200, wantBody: "b1\n",
			header: map[string]string{"X-Echo-X-Probe": "a", "X-Echo-Connection": "x-probe"},
		},
		{
			name: "no echo without knob", opts: Options{Name: "b1"}, target: "/",
			status: 200, wantBody: "b1\n", header: map[string]string{"X-Echo-X-Probe": ""},
		},
		{
			name: "chunks without interval", opts: Options{Name: "b1"}, target: "/?chunks=3",
			status: 200, wantBody: "b1\nb1\nb1\n", header: map[string]string{"Content-Length": ""},
		},
		{
			name: "health", opts: Options{Name: "b1", Status: 500}, target: "/health",
			status: 200, wantBody: "ok\n", header: map[string]string{"X-Backend": "b1", "Content-Length": "3"},
		},
		{
			name: "health status option", opts: Options{Name: "b1", HealthStatus: 503}, target: "/health",
			status: 503, wantBody: "ok\n",
		},
		{
			name: "health status knob", opts: Options{Name: "b1"}, target: "/health?status=500",
			status: 500, wantBody: "ok\n",
		},
		{
			name: "post to health is a normal request", opts: Options{Name: "b1"}, method: "POST", target: "/health",
			status: 200, wantBody: "b1\n", header: map[string]string{"X-Seen-Path": "/health"},
		},
		{name: "bad status", opts: Options{Name: "b1"}, target: "/?status=abc", status: 400},
		{name: "status out of range", opts: Options{Name: "b1"}, target: "/?status=99", status: 400},
		{name: "bad delay", opts: Options{Name: "b1"}, target: "/?delay=soon", status: 400},
		{name: "negative bytes", opts: Options{Name: "b1"}, target: "/?bytes=-1", status: 400},
		{name: "bad echo", opts: Options{Name: "b1"}, target: "/?echo=maybe", status: 400},
		{name: "bad chunks", opts: Options{Name: "b1"}, target: "/?chunks=x", status: 400},
		{name: "bad interval", opts: Options{Name: "b1"}, target: "/?chunks=2&interval=-1s", status: 400},
		{name: "bad health knob", opts: Options{Name: "b1"}, target: "/health?delay=x", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(method, tt.target, nil)
			if body != nil {
				req = httptest.NewRequest(method, tt.target, body)
			}
			req.Header.Set("X-Probe", "a")
			req.Header.Set("Connection", "x-probe")
			rec := httptest.NewRecorder()
			Handler(tt.opts).ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d (body %q)", method, tt.target, rec.Code, tt.status, rec.Body)
			}
			if tt.status != 400 && rec.Body.String() != tt.wantBody {
				t.Errorf("%s %s: body %.40q (%d bytes), want %.40q (%d bytes)",
					method, tt.target, rec.Body, rec.Body.Len(), tt.wantBody, len(tt.wantBody))
			}
			for name, want := range tt.header {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("%s %s: header %s = %q, want %q", method, tt.target, name, got, want)
				}
			}
		})
	}
}

func TestFailEvery(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		targets []string
		want    []int
	}{
		{
			name:    "every third fails with default status",
			opts:    Options{FailEvery: 3},
			targets: []string{"/", "/", "/", "/", "/", "/", "/"},
			want:    []int{200, 200, 503, 200, 200, 503, 200},
		},
		{
			name:    "custom fail status",
			opts:    Options{FailEvery: 2, FailStatus: 500},
			targets: []string{"/", "/", "/", "/"},
			want:    []int{200, 500, 200, 500},
		},
		{
			name:    "health is not counted",
			opts:    Options{FailEvery: 2},
			targets: []string{"/", "/health", "/health", "/", "/health", "/"},
			want:    []int{200, 200, 200, 503, 200, 200},
		},
		{
			name:    "status knob wins over a fail turn but is counted",
			opts:    Options{FailEvery: 2},
			targets: []string{"/", "/?status=201", "/", "/"},
			want:    []int{200, 201, 200, 503},
		},
		{
			name:    "every request fails",
			opts:    Options{FailEvery: 1, Status: 204},
			targets: []string{"/", "/"},
			want:    []int{503, 503},
		},
		{
			name:    "never",
			opts:    Options{},
			targets: []string{"/", "/", "/"},
			want:    []int{200, 200, 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handler(tt.opts)
			for i, target := range tt.targets {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
				if rec.Code != tt.want[i] {
					t.Errorf("request %d GET %s: status %d, want %d", i+1, target, rec.Code, tt.want[i])
				}
			}
		})
	}
}

func TestFailEveryConcurrent(t *testing.T) {
	const workers, each, every = 16, 50, 7
	h := Handler(Options{FailEvery: every})
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code == 503 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if want := workers * each / every; failed != want {
		t.Errorf("%d requests with FailEvery %d: %d failed, want %d", workers*each, every, failed, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" means valid
	}{
		{"zero", Options{}, ""},
		{"full", Options{Name: "b", Status: 201, FailEvery: 2, FailStatus: 500, HealthStatus: 503, BodyBytes: 10}, ""},
		{"status", Options{Status: 42}, "status 42"},
		{"fail status", Options{FailStatus: 600}, "fail status 600"},
		{"health status", Options{HealthStatus: 100}, "health status 100"},
		{"delay", Options{Delay: -1}, "delay"},
		{"body bytes", Options{BodyBytes: -1}, "body bytes -1"},
		{"fail every", Options{FailEvery: -3}, "fail every -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", tt.opts, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
			}
		})
	}
}

func TestHandlerPanicsOnInvalidOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(Options{Status: 42}) did not panic")
		}
	}()
	Handler(Options{Status: 42})
}
