//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ferrumBuild is ferrum built once for every test that runs the whole demo;
// TestMain removes dir.
var ferrumBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// ferrumBinary builds ferrum from the module root on first use.
func ferrumBinary(t *testing.T) string {
	t.Helper()
	ferrumBuild.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			ferrumBuild.err = err
			return
		}
		if ferrumBuild.dir, err = os.MkdirTemp("", "ferrum-demo-test-"); err != nil {
			ferrumBuild.err = err
			return
		}
		ferrumBuild.bin = filepath.Join(ferrumBuild.dir, "ferrum")
		var out bytes.Buffer
		if err := build(root, ferrumBuild.bin, &out, &out, nil); err != nil {
			ferrumBuild.err = fmt.Errorf("%w\n%s", err, out.Bytes())
		}
	})
	if ferrumBuild.err != nil {
		t.Fatal(ferrumBuild.err)
	}
	return ferrumBuild.bin
}

func removeFerrumBuild() {
	if ferrumBuild.dir != "" {
		os.RemoveAll(ferrumBuild.dir)
	}
}

// demoConfig is a ferrum config for the demo under test: %[1]s is
// server.listen, %[2]s the /api backend. Probes are frequent so the
// backends count as healthy soon after start and after a reload.
const demoConfig = `[server]
listen = "%[1]s"
shutdown_delay = "0s"
graceful_shutdown_timeout = "5s"

[health]
interval = "100ms"
timeout = "1s"

[log]
level = "info"
format = "text"

[[route]]
path_prefix = "/api"
backends = ["http://%[2]s"]
`

// staticRoute is the route a test adds to demoConfig before a reload:
// %s is its backend.
const staticRoute = `
[[route]]
path_prefix = "/static"
backends = ["http://%s"]
`

// demoChild is the demo run as a child process: this test binary with
// demoRunEnv set.
type demoChild struct {
	cmd       *exec.Cmd
	out       *outputWatch  // its stdout and stderr, ferrum's included
	done      chan struct{} // closed once it exited
	err       error         // from Wait, written before done closes
	config    string        // the config file ferrum runs on
	proxy     string        // ferrum's server.listen
	api       string        // backend api-a, routed by /api
	static    string        // backend static-b, routed by /static after a reload
	ferrumPID int           // as the banner printed it
	// ferrumGone is set once ferrum's pid was found free after the demo
	// exited; cleanup then no longer kills it.
	ferrumGone bool
}

// startDemo runs the demo on a fresh config and free ports and waits for
// its banner. Cleanup kills the demo and ferrum if they still run.
func startDemo(t *testing.T) *demoChild {
	t.Helper()
	bin := ferrumBinary(t)
	d := &demoChild{
		out:    newOutputWatch(),
		done:   make(chan struct{}),
		config: filepath.Join(t.TempDir(), "ferrum.toml"),
		proxy:  closedAddr(t),
		api:    closedAddr(t),
		static: closedAddr(t),
	}
	if err := os.WriteFile(d.config, fmt.Appendf(nil, demoConfig, d.proxy, d.api), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(os.Args[0], "-config", d.config, "-ferrum-bin", bin,
		"-backends", "api-a="+d.api+",static-b="+d.static)
	d.cmd.Env = append(os.Environ(), demoRunEnv+"=1")
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	// ferrum inherits the demo's output: without a bound, Wait would wait
	// for an orphaned ferrum too.
	d.cmd.WaitDelay = 2 * time.Second
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		// ferrum first: a demo that died without stopping it leaves it
		// running, on its port and holding the demo's output pipe.
		if d.ferrumPID != 0 && !d.ferrumGone {
			syscall.Kill(d.ferrumPID, syscall.SIGKILL)
		}
		d.cmd.Process.Kill()
		<-d.done
	})

	d.out.wait(t, "ferrum is up", 60*time.Second)
	m := regexp.MustCompile(`ferrum is up at \S+ \(pid (\d+)\)`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("banner without ferrum's pid:\n%s", d.out)
	}
	d.ferrumPID, _ = strconv.Atoi(m[1])
	if want := fmt.Sprintf("kill -HUP %d ", d.cmd.Process.Pid); !strings.Contains(d.out.String(), want) {
		t.Errorf("banner lacks %q (the demo's own pid):\n%s", want, d.out)
	}
	return d
}

// signal sends sig to the demo.
func (d *demoChild) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to the demo: %v", sig, err)
	}
}

// running fails the test if the demo exited.
func (d *demoChild) running(t *testing.T, after string) {
	t.Helper()
	select {
	case <-d.done:
		t.Fatalf("demo exited (%v) after %s, want it running:\n%s", d.err, after, d.out)
	default:
	}
}

// exited waits for the demo to exit 0 and checks that nothing it started
// is left: ferrum's process is gone and no port it used accepts.
func (d *demoChild) exited(t *testing.T, after string) {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("demo still running 60s after %s:\n%s", after, d.out)
	}
	if d.err != nil {
		t.Errorf("demo after %s: %v, want exit 0:\n%s", after, d.err, d.out)
	}
	// ferrum was the demo's child: once the demo waited for it, its pid is
	// free; had the demo left it running, it would still answer.
	if err := syscall.Kill(d.ferrumPID, 0); errors.Is(err, syscall.ESRCH) {
		d.ferrumGone = true
	} else {
		t.Errorf("ferrum (pid %d) after the demo exited: kill -0 = %v, want no such process", d.ferrumPID, err)
	}
	for _, addr := range []string{d.proxy, d.api, d.static} {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the demo exited", addr)
		}
	}
}

// backendAnswers is a check for poll: GET url answers 200 from the
// backend named name.
func backendAnswers(url, name string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Backend"); resp.StatusCode != http.StatusOK || got != name {
			return fmt.Errorf("GET %s: status %d from %q, want 200 from %q", url, resp.StatusCode, got, name)
		}
		return nil
	}
}

// SIGHUP to the demo reloads ferrum and leaves the demo, ferrum and the
// backends running; SIGTERM then stops all of them.
func TestDemoSIGHUPReloadsSIGTERMStops(t *testing.T) {
	d := startDemo(t)
	proxy := "http://" + d.proxy
	poll(t, 20*time.Second, "/api through ferrum", backendAnswers(proxy+"/api/users", "api-a"))
	if code, _, err := get(proxy + "/static/logo.png"); err != nil || code != http.StatusNotFound {
		t.Fatalf("GET /static before the reload: %d, %v; want 404", code, err)
	}

	f, err := os.OpenFile(d.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, staticRoute, d.static)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	d.signal(t, syscall.SIGHUP)

	d.out.wait(t, "msg=config_reload result=success", 20*time.Second)
	poll(t, 20*time.Second, "/static through ferrum after the reload", backendAnswers(proxy+"/static/logo.png", "static-b"))
	d.running(t, "SIGHUP")
	if err := syscall.Kill(d.ferrumPID, 0); err != nil {
		t.Errorf("ferrum (pid %d) after SIGHUP: %v, want the same process running", d.ferrumPID, err)
	}
	for _, check := range []func() error{
		backendAnswers(proxy+"/api/users", "api-a"),
		backendAnswers("http://"+d.api+"/api/users", "api-a"),
		backendAnswers("http://"+d.static+"/static/logo.png", "static-b"),
	} {
		if err := check(); err != nil {
			t.Errorf("after SIGHUP: %v", err)
		}
	}

	d.signal(t, syscall.SIGTERM)
	d.exited(t, "SIGTERM")
	d.out.wait(t, "shutdown_complete result=drained", time.Second)
}

// When ferrum exits on its own, the demo stops the backends and exits with
// ferrum's code.
func TestDemoFerrumExitsOnItsOwn(t *testing.T) {
	d := startDemo(t)
	if err := syscall.Kill(d.ferrumPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.exited(t, "ferrum's own exit")
	d.out.wait(t, "demo: ferrum exited with code 0; stopping the backends", time.Second)
}
