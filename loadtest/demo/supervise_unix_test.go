//go:build unix

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// fakeProxyEnv, when set to an address, turns the test binary into a
	// stand-in for ferrum listening there: /health answers 200, /exit?code=N
	// exits N, /reloads counts the SIGHUPs received, and SIGTERM exits 3
	// (a code the demo must pass on unchanged).
	fakeProxyEnv = "FERRUM_DEMO_FAKE_PROXY"
	// fakeProxyLateEnv, set to 1, makes the stand-in start the way ferrum
	// does: /health answers 503, and SIGHUP kills it, until GET /ready.
	fakeProxyLateEnv = "FERRUM_DEMO_FAKE_PROXY_LATE"
	// demoRunEnv, set to 1, turns the test binary into the demo itself,
	// run on its arguments (see signals_unix_test.go).
	demoRunEnv = "FERRUM_DEMO_RUN"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(fakeProxyEnv); addr != "" {
		os.Exit(fakeProxy(addr, os.Getenv(fakeProxyLateEnv) == "1"))
	}
	if os.Getenv(demoRunEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	removeFerrumBuild()
	os.Exit(code)
}

func fakeProxy(addr string, late bool) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	var ready atomic.Bool
	catchHUP := func() {
		if ready.CompareAndSwap(false, true) {
			signal.Notify(sigs, syscall.SIGHUP)
		}
	}
	if !late {
		catchHUP()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 2
	}
	exit := make(chan int, 1)
	var reloads atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) { catchHUP() })
	mux.HandleFunc("GET /reloads", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, reloads.Load())
	})
	mux.HandleFunc("GET /exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		exit <- code
	})
	go http.Serve(ln, mux)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reloads.Add(1)
				continue
			}
			return 3
		case code := <-exit:
			return code
		}
	}
}

// outputWatch collects what the demo writes and lets a test wait for a
// line to appear.
type outputWatch struct {
	mu        sync.Mutex
	buf       strings.Builder
	changed   chan struct{} // closed, and replaced, on every write
	failAfter string        // non-empty: once the output holds it, writes fail
}

func newOutputWatch() *outputWatch {
	return &outputWatch{changed: make(chan struct{})}
}

func (o *outputWatch) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failAfter != "" && strings.Contains(o.buf.String(), o.failAfter) {
		return 0, syscall.EIO // what a hung-up terminal answers
	}
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *outputWatch) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// wait fails the test unless the output holds want within d.
func (o *outputWatch) wait(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		have, changed := strings.Contains(o.buf.String(), want), o.changed
		o.mu.Unlock()
		if have {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %q in the output within %v:\n%s", want, d, o)
		}
	}
}

// supervised is a stand-in proxy under supervise.
type supervised struct {
	addr    string // where the stand-in listens
	out     *outputWatch
	stops   chan os.Signal
	reloads chan os.Signal
	done    chan struct{} // closed once supervise returned
	code    int           // supervise's result, written before done closes
}

// superviseFake starts the stand-in proxy and supervises it in the
// background, its output going to out; cleanup kills it and waits for
// supervise to return.
func superviseFake(t *testing.T, out *outputWatch) *supervised {
	t.Helper()
	s := &supervised{
		addr:    closedAddr(t),
		out:     out,
		stops:   make(chan os.Signal, 2),
		reloads: make(chan os.Signal, 1),
		done:    make(chan struct{}),
	}
	t.Setenv(fakeProxyEnv, s.addr)
	p, err := startProxy(os.Args[0], "unused.toml", io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	info := demoInfo{base: "http://" + s.addr, config: "unused.toml"}
	go func() {
		s.code = supervise(p, info, s.stops, s.reloads, out, io.Discard)
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

// poll calls check every few milliseconds until it returns nil, and fails
// the test with check's last error if that takes longer than d.
func poll(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v: %v", what, d, err)
		case <-tick.C:
		}
	}
}

// get returns the status and body of GET url, read in full.
func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// reloadsAre is a check for poll: the stand-in at addr counted want SIGHUPs.
func reloadsAre(addr string, want int) func() error {
	return func() error {
		_, body, err := get("http://" + addr + "/reloads")
		if err == nil && body != strconv.Itoa(want) {
			err = fmt.Errorf("stand-in counted %q SIGHUPs, want %d", body, want)
		}
		return err
	}
}

// running fails the test if supervise has returned.
func (s *supervised) running(t *testing.T, after string) {
	t.Helper()
	select {
	case <-s.done:
		t.Fatalf("supervise returned %d after %s, want it still running:\n%s", s.code, after, s.out)
	default:
	}
}

func TestSuperviseForwardsSignal(t *testing.T) {
	s := superviseFake(t, newOutputWatch())
	s.out.wait(t, "ferrum is up", 20*time.Second)
	s.stops <- os.Interrupt
	await(t, s.done, "return of supervise after Ctrl-C")
	if s.code != 3 {
		t.Errorf("supervise after Ctrl-C = %d, want the proxy's 3", s.code)
	}
}

func TestSuperviseProxyExitsOnItsOwn(t *testing.T) {
	s := superviseFake(t, newOutputWatch())
	s.out.wait(t, "ferrum is up", 20*time.Second)
	if resp, err := http.Get("http://" + s.addr + "/exit?code=7"); err == nil {
		resp.Body.Close()
	}
	await(t, s.done, "return of supervise after the proxy exited")
	if s.code != 7 {
		t.Errorf("supervise after the proxy exited 7 = %d, want 7", s.code)
	}
}

func TestSuperviseForwardsReload(t *testing.T) {
	s := superviseFake(t, newOutputWatch())
	s.out.wait(t, "ferrum is up", 20*time.Second)
	for n := 1; n <= 2; n++ {
		s.reloads <- syscall.SIGHUP
		poll(t, 20*time.Second, fmt.Sprintf("SIGHUP %d passed on", n), reloadsAre(s.addr, n))
		s.running(t, "a SIGHUP")
	}
	s.out.wait(t, "re-reads unused.toml", time.Second)
	s.stops <- syscall.SIGTERM
	await(t, s.done, "return of supervise after SIGTERM")
	if s.code != 3 {
		t.Errorf("supervise after SIGHUP, SIGHUP, SIGTERM = %d, want the proxy's 3", s.code)
	}
}

// A SIGHUP that arrives while ferrum starts is held until ferrum answers
// /health: before, ferrum does not catch SIGHUP yet and would die of it.
func TestSuperviseHoldsReloadUntilUp(t *testing.T) {
	t.Setenv(fakeProxyLateEnv, "1")
	s := superviseFake(t, newOutputWatch())
	poll(t, 20*time.Second, "stand-in listening", reloadsAre(s.addr, 0))
	s.reloads <- syscall.SIGHUP
	s.out.wait(t, "ferrum is not up yet", 20*time.Second)
	s.running(t, "a SIGHUP before ferrum was up")
	if _, _, err := get("http://" + s.addr + "/ready"); err != nil {
		t.Fatalf("stand-in died of the SIGHUP sent before it was up: %v\n%s", err, s.out)
	}
	s.out.wait(t, "ferrum is up", 20*time.Second)
	poll(t, 20*time.Second, "held SIGHUP passed on", reloadsAre(s.addr, 1))
	s.running(t, "the held SIGHUP")
}

// A SIGHUP whose notice cannot be written comes from a terminal that hung
// up: the demo stops rather than run on with nobody to stop it.
func TestSuperviseStopsOnHangup(t *testing.T) {
	out := newOutputWatch()
	out.failAfter = "ferrum is up"
	s := superviseFake(t, out)
	out.wait(t, "ferrum is up", 20*time.Second)
	s.reloads <- syscall.SIGHUP
	await(t, s.done, "return of supervise after a SIGHUP with the output gone")
	if s.code != 3 {
		t.Errorf("supervise after a hangup = %d, want the proxy's 3 (it got SIGTERM)", s.code)
	}
}
