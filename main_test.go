package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
	"ferrum/proxyconf"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ferrum.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckShippedConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "ferrum.toml"}, &out, &errOut); code != 0 {
		t.Fatalf("-check on the shipped ferrum.toml: exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"/api", "/static", "http://127.0.0.1:3001", "http://127.0.0.1:4000", "round_robin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("route table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckRejects(t *testing.T) {
	good := "[[route]]\npath_prefix = \"/api\"\nbackends = [\"http://127.0.0.1:3001\"]\n"
	cases := []struct {
		name, conf, wantKey string
	}{
		{"unknown key", "[server]\nlisten_addr = \"x\"\n" + good, "server.listen_addr"},
		{"https backend", "[[route]]\npath_prefix = \"/api\"\nbackends = [\"https://127.0.0.1:3001\"]\n", "route[0].backends[0]"},
		{"duplicate prefix", good + good, "route[1].path_prefix"},
		{"bad duration", "[upstream]\nread_timeout = \"fast\"\n" + good, "upstream.read_timeout"},
		{"empty backends", "[[route]]\npath_prefix = \"/api\"\nbackends = []\n", "route[0].backends"},
		{"typo in a route section", good + "[route.helth]\ninterval = \"1s\"\n", "route[0].helth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run([]string{"-check", "-config", writeConfig(t, c.conf)}, &out, &errOut)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (stderr %q)", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), c.wantKey) {
				t.Fatalf("stderr %q does not name %s", errOut.String(), c.wantKey)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), runtime.Version()) || !strings.HasPrefix(out.String(), "ferrum ") {
		t.Fatalf("-version printed %q", out.String())
	}
}

func TestMissingConfigFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-config", filepath.Join(t.TempDir(), "nope.toml")}, &out, &errOut); code != 1 {
		t.Fatalf("missing file: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "nope.toml") {
		t.Fatalf("stderr %q does not name the file", errOut.String())
	}
}

func TestStrayArgumentIsAnError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "my.toml"}, &out, &errOut); code != 2 {
		t.Fatalf("stray argument: exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `"my.toml"`) || !strings.Contains(errOut.String(), "-config my.toml") {
		t.Fatalf("stderr %q does not name the argument and the fix", errOut.String())
	}
}

// --- the real binary, driven with signals ---

var ferrumBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferrum-bin-")
	if err != nil {
		panic(err)
	}
	ferrumBin = filepath.Join(dir, "ferrum")
	// -buildvcs=true: the revision -version reports comes from the build
	// information, which the environment may have turned off (GOFLAGS).
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", ferrumBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ferrum: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running ferrum binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	config string
	url    string
	stderr *syncBuffer
	exited chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`msg=server_start listen=(\S+)`)

// startFerrum runs the binary on conf (listen is forced to 127.0.0.1:0) and
// waits until it serves.
func startFerrum(t *testing.T, conf string) *proc {
	t.Helper()
	return startWith(t, conf, listenRE)
}

// startWith runs the binary on conf and finds its address in the
// server_start line with re.
func startWith(t *testing.T, conf string, re *regexp.Regexp) *proc {
	t.Helper()
	p := &proc{t: t, config: writeConfig(t, conf), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(ferrumBin, "-config", p.config)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	waitFor(t, 10*time.Second, "ferrum to start", func() bool {
		m := re.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return false
		}
		p.url = "http://" + m[1]
		return true
	})
	return p
}

func (p *proc) signal(s os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns the exit code once the process ended, failing after within.
func (p *proc) wait(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(within):
		p.t.Fatalf("ferrum still running after %v; stderr:\n%s", within, p.stderr.String())
		return -1
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fake(t *testing.T, o fakebackend.Options) string {
	t.Helper()
	s := httptest.NewServer(fakebackend.Handler(o))
	t.Cleanup(s.Close)
	return s.URL
}

func routeTOML(prefix string, backends ...string) string {
	q := make([]string, len(backends))
	for i, b := range backends {
		q[i] = strconv.Quote(b)
	}
	return fmt.Sprintf("[[route]]\npath_prefix = %q\nbackends = [%s]\n", prefix, strings.Join(q, ", "))
}

var httpc = &http.Client{Timeout: 20 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGracefulShutdown(t *testing.T) {
	slow := fake(t, fakebackend.Options{Name: "slow"})
	conf := "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_delay = \"2s\"\ngraceful_shutdown_timeout = \"6s\"\n" + routeTOML("/", slow)
	p := startFerrum(t, conf)
	inflight := p.inFlight("/work?delay=3s")
	p.signal(syscall.SIGTERM)
	// During shutdown_delay: /health is 503, other traffic still served.
	waitFor(t, 2*time.Second, "/health to turn 503", func() bool {
		code, _ := get(t, p.url+"/health")
		return code == 503
	})
	if code, _ := get(t, p.url+"/other"); code != 200 {
		t.Fatalf("request during shutdown_delay = %d, want 200", code)
	}
	// After the delay new connections are refused.
	addr := strings.TrimPrefix(p.url, "http://")
	waitFor(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if code := <-inflight; code != 200 {
		t.Fatalf("in-flight request finished with %d, want 200", code)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after a clean drain, want 0; stderr:\n%s", code, p.stderr.String())
	}
	for _, ev := range []string{"msg=shutdown_started", "msg=shutdown_complete"} {
		if !strings.Contains(p.stderr.String(), ev) {
			t.Errorf("stderr lacks %s", ev)
		}
	}
}

func TestShutdownDeadlineCutsRequests(t *testing.T) {
	slow := fake(t, fakebackend.Options{Name: "slow"})
	conf := "[server]\nlisten = \"127.0.0.1:0\"\ngraceful_shutdown_timeout = \"300ms\"\n" + routeTOML("/", slow)
	p := startFerrum(t, conf)
	p.inFlight("/work?delay=5s")
	p.signal(syscall.SIGTERM)
	if code := p.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit %d when the deadline cut a request off, want 1", code)
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	p := startFerrum(t, "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_delay = \"30s\"\n"+routeTOML("/", a))
	p.signal(syscall.SIGTERM)
	waitFor(t, 2*time.Second, "drain to start", func() bool { return strings.Contains(p.stderr.String(), "shutdown_started") })
	p.signal(syscall.SIGINT)
	if code := p.wait(3 * time.Second); code != 1 {
		t.Fatalf("exit %d after a second signal, want 1", code)
	}
}

// inFlight starts a GET of path and returns once ferrum counts it in
// flight; the channel gets its status (-1 when it failed) when it ends.
func (p *proc) inFlight(path string) <-chan int {
	p.t.Helper()
	done := make(chan int, 1)
	go func() {
		resp, err := httpc.Get(p.url + path)
		if err != nil {
			done <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitFor(p.t, 5*time.Second, "the slow request to reach ferrum", func() bool {
		return strings.Contains(metricsText(p.t, p.url), `ferrum_proxy_inflight_requests 1`)
	})
	return done
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	_, body := get(t, base+"/metrics")
	return body
}

// reloadTo writes conf over p's config file, sends SIGHUP and waits for the
// reload's outcome line (success or failure; a restart_needed warning comes
// before the reload is done).
func (p *proc) reloadTo(conf string) {
	p.t.Helper()
	before := reloadOutcomes(p.stderr.String())
	if err := os.WriteFile(p.config, []byte(conf), 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	waitFor(p.t, 5*time.Second, "config_reload", func() bool {
		return reloadOutcomes(p.stderr.String()) > before
	})
}

func reloadOutcomes(log string) int {
	return strings.Count(log, "msg=config_reload result=success") + strings.Count(log, "msg=config_reload result=failure")
}

var ejectionsRE = regexp.MustCompile(`"ejections": (\d+)`)

func TestReloadUnderLoad(t *testing.T) {
	b1 := fake(t, fakebackend.Options{Name: "b1"})
	b2 := fake(t, fakebackend.Options{Name: "b2"})
	bad := fake(t, fakebackend.Options{Name: "bad", Status: 503})
	slow1 := fake(t, fakebackend.Options{Name: "slow1"})
	slow2 := fake(t, fakebackend.Options{Name: "slow2"})
	head := "[server]\nlisten = \"127.0.0.1:0\"\n[health]\ninterval = \"100ms\"\nejection_duration = \"1m\"\nmax_ejection_duration = \"5m\"\n[retry]\nbackoff = \"1ms\"\n"
	confA := head + routeTOML("/api", b1, b2, bad) + routeTOML("/x", b1) + routeTOML("/slow", slow1)
	confB := head + routeTOML("/api", bad, b1, b2) + "[route.retry]\nmax_attempts = 3\n" + routeTOML("/y", b2) + routeTOML("/slow", slow2)
	p := startFerrum(t, confA)

	// Passive failures eject the 503 backend; reloads must not forget it.
	waitFor(t, 5*time.Second, "the 503 backend to be ejected", func() bool {
		get(t, p.url+"/api/warm")
		_, body := get(t, p.url+"/health/backends")
		return strings.Contains(body, `"state": "ejected"`)
	})

	// A slow request on a backend the next config removes must complete.
	slowDone := p.inFlight("/slow/s?delay=1500ms")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var okCount, failures, dials atomic.Int64
	var firstFailure atomic.Value
	// Each worker sends one request at a time, so it needs one connection
	// for the whole run: a second dial means ferrum dropped a connection
	// (which the client would hide by quietly resending the GET).
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2, DialContext: dial}}
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(p.url + "/api/load")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprint(err, resp))
					continue
				}
				okCount.Add(1)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		conf := confB
		if i%2 == 1 {
			conf = confA
		}
		p.reloadTo(conf)
		if i == 0 {
			if code, _ := get(t, p.url+"/y/new"); code != 200 {
				t.Errorf("route added by reload answered %d, want 200 at once", code)
			}
		}
	}
	close(stop)
	wg.Wait()
	if code := <-slowDone; code != 200 {
		t.Errorf("in-flight request to a removed backend ended with %d, want 200", code)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, n+okCount.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, all 200, across 20 reloads, over %d connections", okCount.Load(), dials.Load())
	if n := dials.Load(); n > workers {
		t.Errorf("%d workers dialled %d connections: reloads dropped %d", workers, n, n-workers)
	}
	if n := strings.Count(p.stderr.String(), "msg=config_reload result=success"); n != 20 {
		t.Errorf("%d successful reloads logged, want 20", n)
	}
	_, body := get(t, p.url+"/health/backends")
	ej := 0
	for _, m := range ejectionsRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		ej += n
	}
	if ej < 1 {
		t.Errorf("ejections lost across reloads: /health/backends shows %d", ej)
	}
	if !strings.Contains(body, `"state": "ejected"`) {
		t.Errorf("the ejected backend is not ejected after reloads:\n%s", body)
	}
}

func TestReloadInvalidFileKeepsServing(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	conf := "[server]\nlisten = \"127.0.0.1:0\"\n" + routeTOML("/api", a)
	p := startFerrum(t, conf)
	p.reloadTo(conf + "[upstream]\nread_timout = \"1s\"\n")
	if code, _ := get(t, p.url+"/api/x"); code != 200 {
		t.Fatalf("after a failed reload /api answered %d, want 200", code)
	}
	if !strings.Contains(p.stderr.String(), "upstream.read_timout") {
		t.Errorf("the failed reload's log does not name the key:\n%s", p.stderr.String())
	}
	if !strings.Contains(metricsText(t, p.url), `ferrum_proxy_config_reloads_total{result="failure"} 1`) {
		t.Errorf("failed reload not counted")
	}
	p.reloadTo(strings.Replace(conf, "127.0.0.1:0", "127.0.0.1:1", 1))
	if !strings.Contains(p.stderr.String(), "restart_needed") {
		t.Errorf("a changed server.listen was not reported as needing a restart")
	}
	if !strings.Contains(metricsText(t, p.url), `ferrum_proxy_config_reloads_total{result="success"} 1`) {
		t.Errorf("reload with a changed listen not counted as a success")
	}
}

func TestFailOnDeadPool(t *testing.T) {
	live := fake(t, fakebackend.Options{Name: "live"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	conf := "[server]\nlisten = \"127.0.0.1:0\"\nfail_on_dead_pool = true\n" + routeTOML("/ok", live, dead) + routeTOML("/dead", dead)
	cmd := exec.Command(ferrumBin, "-config", writeConfig(t, conf))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1; stderr:\n%s", code, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "route /dead") || !strings.Contains(stderr.String(), dead) {
		t.Fatalf("stderr does not name the dead route and its backend:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "route /ok") {
		t.Fatalf("a route with a live backend was reported dead:\n%s", stderr.String())
	}
	// The same file without the dead route starts.
	p := startFerrum(t, "[server]\nlisten = \"127.0.0.1:0\"\nfail_on_dead_pool = true\n"+routeTOML("/ok", live, dead))
	if code, _ := get(t, p.url+"/ok/x"); code != 200 {
		t.Fatalf("route with one live backend answered %d", code)
	}
}

func TestAccessLogJSON(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	p := startFerrumJSON(t, "[server]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\naccess_log = true\n"+routeTOML("/api", a))
	req, _ := http.NewRequest(http.MethodGet, p.url+"/api/users", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var line map[string]any
	waitFor(t, 5*time.Second, "the request_complete line", func() bool {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(l, `"request_complete"`) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	want := map[string]any{"msg": "request_complete", "request_id": "trace-42", "method": "GET", "path": "/api/users",
		"route": "/api", "backend": a, "status": float64(200), "attempts": float64(1), "error_kind": ""}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("request_complete %s = %v, want %v", k, line[k], v)
		}
	}
	for _, k := range []string{"duration", "bytes_received", "bytes_sent", "upstream_time", "client", "host", "query",
		"protocol", "user_agent", "time", "level"} {
		if _, ok := line[k]; !ok {
			t.Errorf("request_complete lacks %s: %v", k, line)
		}
	}
}

var jsonListenRE = regexp.MustCompile(`"msg":"server_start","listen":"([^"]+)"`)

// startFerrumJSON is startFerrum for a config that logs JSON.
func startFerrumJSON(t *testing.T, conf string) *proc {
	t.Helper()
	return startWith(t, conf, jsonListenRE)
}

var debugListenRE = regexp.MustCompile(`msg=debug_listen listen=(\S+)`)

// TestDebugListenOnItsOwnAddress: with debug.listen set, /metrics and
// /health/backends are served there, and on server.listen they belong to
// the routes (only /health stays the proxy's own).
func TestDebugListenOnItsOwnAddress(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	p := startFerrum(t, "[server]\nlisten = \"127.0.0.1:0\"\n[debug]\nlisten = \"127.0.0.1:0\"\n"+routeTOML("/", a))
	var dbg string
	waitFor(t, 5*time.Second, "the debug_listen line", func() bool {
		m := debugListenRE.FindStringSubmatch(p.stderr.String())
		if m != nil {
			dbg = "http://" + m[1]
		}
		return m != nil
	})
	for _, path := range []string{"/metrics", "/health/backends", "/health"} {
		if code, body := get(t, dbg+path); code != 200 || !strings.Contains(body, map[string]string{
			"/metrics": "ferrum_proxy_build_info", "/health/backends": a, "/health": "ok"}[path]) {
			t.Errorf("debug listener %s = %d %.80q", path, code, body)
		}
	}
	resp, err := httpc.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Backend") != "a" {
		t.Errorf("/metrics on server.listen was not proxied to the route")
	}
}

func TestSIGHUPDuringDrainIsIgnored(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	p := startFerrum(t, "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_delay = \"2s\"\n"+routeTOML("/", a))
	p.signal(syscall.SIGTERM)
	waitFor(t, 2*time.Second, "drain to start", func() bool { return strings.Contains(p.stderr.String(), "shutdown_started") })
	p.signal(syscall.SIGHUP)
	if code := p.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGHUP during a drain, want 0 (a reload signal is not a second stop signal); stderr:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "result=ignored") {
		t.Errorf("the ignored SIGHUP was not logged")
	}
}

// panickyServer stands in for the server in a reload: its Apply panics.
type panickyServer struct {
	cfg    *proxyconf.Config
	failed []error
}

func (s *panickyServer) Config() *proxyconf.Config     { return s.cfg }
func (s *panickyServer) Apply(*proxyconf.Config) error { panic("bug while applying") }
func (s *panickyServer) ReloadFailed(err error)        { s.failed = append(s.failed, err) }

// TestReloadNeverEndsTheProcess: a panic while applying a new config, or a
// file that cannot be read, is a failed reload, reported once; reload
// returns normally.
func TestReloadNeverEndsTheProcess(t *testing.T) {
	good := writeConfig(t, routeTOML("/api", "http://127.0.0.1:3001"))
	cases := []struct {
		name, file string
		want       string
	}{
		{"panic in apply", good, "panic: bug while applying"},
		{"file gone", filepath.Join(t.TempDir(), "gone.toml"), "gone.toml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &panickyServer{cfg: &proxyconf.Config{File: c.file}}
			reload(s)
			if len(s.failed) != 1 || !strings.Contains(s.failed[0].Error(), c.want) {
				t.Fatalf("reload reported %v, want one failure naming %q", s.failed, c.want)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, want 0", code)
	}
	for _, want := range []string{"SIGHUP", "SIGTERM", "FERRUM_DEBUG_TOKEN", "GOGC", "LISTEN_FDS", "NOTIFY_SOCKET",
		"/health/backends", "/metrics", "docs/configuration.md", "-check"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h does not mention %s:\n%s", want, out.String())
		}
	}
}

func TestVersionNamesTheRevision(t *testing.T) {
	out, err := exec.Command(ferrumBin, "-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is built from a git checkout: the build
	// information carries its revision.
	if !regexp.MustCompile(`^ferrum \S+ revision [0-9a-f]{40}(\+dirty)? \(\d{4}-\d\d-\d\dT`).Match(out) {
		t.Errorf("-version = %q, want the version, the VCS revision and its time", out)
	}
}

// TestZeroRoutesRefused: a config without [[route]] is refused by -check,
// at start, and on reload (which keeps serving the old one).
func TestZeroRoutesRefused(t *testing.T) {
	empty := "[server]\nlisten = \"127.0.0.1:0\"\n"
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", writeConfig(t, empty)}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "[[route]]") {
		t.Fatalf("-check on a file without routes: exit %d, stderr %q; want 1 naming [[route]]", code, errOut.String())
	}
	cmd := exec.Command(ferrumBin, "-config", writeConfig(t, empty))
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("start without routes: %v, want exit 1", err)
	}
	a := fake(t, fakebackend.Options{Name: "a"})
	p := startFerrum(t, empty+routeTOML("/api", a))
	p.reloadTo(empty) // a file truncated during a deploy
	if code, _ := get(t, p.url+"/api/x"); code != 200 {
		t.Fatalf("after a reload to a file without routes /api answered %d, want 200 (old config kept)", code)
	}
	if !strings.Contains(metricsText(t, p.url), `ferrum_proxy_config_reloads_total{result="failure"} 1`) {
		t.Errorf("the reload to a file without routes was not counted as failed")
	}
}

// TestListenHints: a listener that cannot open says why in words that fit.
func TestListenHints(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct{ name, listen, want string }{
		{"address in use", taken.Addr().String(), "another process holds the address"},
		{"address not on this machine", "192.0.2.1:8080", "no interface of this machine has that address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := fmt.Sprintf("[server]\nlisten = %q\n", c.listen) + routeTOML("/", "http://127.0.0.1:1")
			cmd := exec.Command(ferrumBin, "-config", writeConfig(t, conf))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			_ = cmd.Run()
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), "server.listen") {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 naming server.listen and %q", cmd.ProcessState.ExitCode(), stderr.String(), c.want)
			}
		})
	}
}

// TestSystemdNotify: with NOTIFY_SOCKET set, ferrum says READY=1 once
// serving, RELOADING=1 then READY=1 around a reload, STOPPING=1 when the
// drain begins, as datagrams on that socket.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := func(want string) {
		t.Helper()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if got := string(buf[:n]); !strings.HasPrefix(got, want) {
			t.Fatalf("notification %q, want %s", got, want)
		}
	}
	a := fake(t, fakebackend.Options{Name: "a"})
	conf := "[server]\nlisten = \"127.0.0.1:0\"\n" + routeTOML("/", a)
	p := &proc{t: t, config: writeConfig(t, conf), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(ferrumBin, "-config", p.config)
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); p.code = p.cmd.ProcessState.ExitCode(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	next("READY=1")
	p.signal(syscall.SIGHUP)
	next("RELOADING=1\nMONOTONIC_USEC=")
	next("READY=1")
	p.signal(syscall.SIGTERM)
	next("STOPPING=1")
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
}

// TestSocketActivation: given a listening socket the way systemd passes
// one (descriptor 3, LISTEN_FDS=1, LISTEN_PID its own PID), ferrum serves
// on it instead of opening server.listen.
func TestSocketActivation(t *testing.T) {
	a := fake(t, fakebackend.Options{Name: "a"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // the child holds the only other copy
	// server.listen names a port nobody may take: serving proves the
	// inherited socket is used.
	conf := "[server]\nlisten = \"127.0.0.1:1\"\n" + routeTOML("/", a)
	p := &proc{t: t, config: writeConfig(t, conf), stderr: &syncBuffer{}, exited: make(chan struct{})}
	// LISTEN_PID must be the PID of ferrum itself: the shell learns its own
	// and keeps it across exec, as systemd does across its fork.
	p.cmd = exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -config "$1"`, ferrumBin, p.config)
	p.cmd.ExtraFiles = []*os.File{f}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	go func() { _ = p.cmd.Wait(); p.code = p.cmd.ProcessState.ExitCode(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	waitFor(t, 10*time.Second, "ferrum to start", func() bool { return strings.Contains(p.stderr.String(), "msg=server_start") })
	if !strings.Contains(p.stderr.String(), "msg=socket_activation") {
		t.Errorf("no socket_activation line:\n%s", p.stderr.String())
	}
	if code, body := get(t, "http://"+addr+"/x"); code != 200 || !strings.Contains(body, "a") {
		t.Fatalf("GET through the inherited socket: %d %q", code, body)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
}

// accessLine runs ferrum with an access log in format, sends one request
// with a query, and returns the request_complete line's fields.
func accessLine(t *testing.T, format string, withQuery bool) map[string]string {
	t.Helper()
	a := fake(t, fakebackend.Options{Name: "a"})
	conf := fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = %q\naccess_log = true\naccess_log_query = %v\n", format, withQuery) +
		routeTOML("/api", a)
	var p *proc
	if format == "json" {
		p = startFerrumJSON(t, conf)
	} else {
		p = startFerrum(t, conf)
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/api/users?token=secret", nil)
	req.Header.Set("User-Agent", "ferrum-test/1")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fields := map[string]string{}
	waitFor(t, 5*time.Second, "the request_complete line", func() bool {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if !strings.Contains(l, "request_complete") {
				continue
			}
			if format == "json" {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) != nil {
					return false
				}
				for k, v := range m {
					fields[k] = fmt.Sprint(v)
				}
				return true
			}
			for _, m := range textFieldRE.FindAllStringSubmatch(l, -1) {
				v := m[2]
				if uq, err := strconv.Unquote(v); err == nil {
					v = uq
				}
				fields[m[1]] = v
			}
			return true
		}
		return false
	})
	return fields
}

var textFieldRE = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// TestAccessLogFields: request_complete carries the same fields in text and
// JSON, the client, host, query, protocol, sizes, times and user agent
// among them; access_log_query = false leaves the query out.
func TestAccessLogFields(t *testing.T) {
	text := accessLine(t, "text", true)
	js := accessLine(t, "json", true)
	for _, k := range []string{"request_id", "client", "method", "host", "path", "query", "protocol", "route", "backend",
		"status", "attempts", "upstream_time", "duration", "bytes_received", "bytes_sent", "user_agent", "error_kind"} {
		if _, ok := text[k]; !ok {
			t.Errorf("text request_complete lacks %s: %v", k, text)
		}
		if _, ok := js[k]; !ok {
			t.Errorf("JSON request_complete lacks %s: %v", k, js)
		}
	}
	for k, want := range map[string]string{"client": "127.0.0.1", "path": "/api/users", "query": "token=secret",
		"protocol": "HTTP/1.1", "user_agent": "ferrum-test/1", "status": "200"} {
		if text[k] != want || js[k] != want {
			t.Errorf("%s: text %q, JSON %q, want %q", k, text[k], js[k], want)
		}
	}
	if quiet := accessLine(t, "text", false); quiet["query"] != "" || strings.Contains(fmt.Sprint(quiet), "secret") {
		t.Errorf("access_log_query = false still logs the query: %v", quiet)
	}
}
