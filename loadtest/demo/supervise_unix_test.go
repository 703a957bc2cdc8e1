//go:build unix

package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeProxyEnv, when set to an address, turns the test binary into a
// stand-in for ferrum listening there: /health answers 200, /exit?code=N
// exits N, and SIGTERM exits 3 (a code the demo must pass on unchanged).
const fakeProxyEnv = "FERRUM_DEMO_FAKE_PROXY"

func TestMain(m *testing.M) {
	if addr := os.Getenv(fakeProxyEnv); addr != "" {
		os.Exit(fakeProxy(addr))
	}
	os.Exit(m.Run())
}

func fakeProxy(addr string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 2
	}
	exit := make(chan int, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		exit <- code
	})
	go http.Serve(ln, mux)
	select {
	case <-sigs:
		return 3
	case code := <-exit:
		return code
	}
}

// bannerWatch is a writer that closes up once the banner went through it.
type bannerWatch struct {
	mu  sync.Mutex
	buf bytes.Buffer
	up  chan struct{}
}

func (b *bannerWatch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	had := strings.Contains(b.buf.String(), "ferrum is up")
	b.buf.Write(p)
	if !had && strings.Contains(b.buf.String(), "ferrum is up") {
		close(b.up)
	}
	return len(p), nil
}

// supervised is a stand-in proxy under supervise.
type supervised struct {
	addr string        // where the stand-in listens
	up   chan struct{} // closed once the banner was printed
	done chan struct{} // closed once supervise returned
	code int           // supervise's result, written before done closes
}

// superviseFake starts the stand-in proxy and supervises it in the
// background; cleanup kills it and waits for supervise to return.
func superviseFake(t *testing.T, sigs chan os.Signal) *supervised {
	t.Helper()
	s := &supervised{addr: closedAddr(t), done: make(chan struct{})}
	t.Setenv(fakeProxyEnv, s.addr)
	p, err := startProxy(os.Args[0], "unused.toml", io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := &bannerWatch{up: make(chan struct{})}
	s.up = out.up
	go func() {
		s.code = supervise(p, s.addr, sigs, out, io.Discard)
		close(s.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// await fails the test unless ch is closed within 20 seconds.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20s", what)
	}
}

func TestSuperviseForwardsSignal(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	s := superviseFake(t, sigs)
	await(t, s.up, "banner after starting the stand-in proxy")
	sigs <- os.Interrupt
	await(t, s.done, "return of supervise after Ctrl-C")
	if s.code != 3 {
		t.Errorf("supervise after Ctrl-C = %d, want the proxy's 3", s.code)
	}
}

func TestSuperviseProxyExitsOnItsOwn(t *testing.T) {
	s := superviseFake(t, make(chan os.Signal, 2))
	await(t, s.up, "banner after starting the stand-in proxy")
	if resp, err := http.Get("http://" + s.addr + "/exit?code=7"); err == nil {
		resp.Body.Close()
	}
	await(t, s.done, "return of supervise after the proxy exited")
	if s.code != 7 {
		t.Errorf("supervise after the proxy exited 7 = %d, want 7", s.code)
	}
}
