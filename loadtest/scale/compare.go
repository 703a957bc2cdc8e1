package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Proxies -compare accepts, in the order they run.
const (
	rivalNginx   = "nginx"
	rivalHAProxy = "haproxy"
)

// rival is another proxy measured beside ferrum.
type rival struct {
	name, bin string
	// version is the program's own one-line account of itself.
	version string
}

// other is what is measured of a rival for one number of routes. A nil
// field was not measured.
type other struct {
	StartToServingSeconds *float64 `json:"start_to_serving_seconds"`
	// RSSBytes sums VmRSS over the master and its workers, so pages they
	// share count once per process; PSSBytes shares them out instead.
	RSSBytes  *uint64 `json:"rss_bytes"`
	PSSBytes  *uint64 `json:"pss_bytes"`
	Processes int     `json:"processes"`
	Error     string  `json:"error,omitempty"`
}

// findRivals looks each name up in PATH. A missing one is left out, with
// one line through logf saying how to install it.
func findRivals(names []string, logf func(string, ...any)) []rival {
	var out []rival
	for _, name := range names {
		bin, err := exec.LookPath(name)
		if err != nil {
			logf("%s is not installed (not in PATH); skipping it (apt-get install -y %s)", name, name)
			continue
		}
		out = append(out, rival{name: name, bin: bin, version: programVersion(bin)})
	}
	return out
}

// programVersion is the first line a proxy prints for -v; nginx prints it
// on stderr, HAProxy on stdout.
func programVersion(bin string) string {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
	return line
}

// measureRival starts rv with n routes, times it to serving its last
// route, waits one health interval and reads its memory, then stops it.
func (e *env) measureRival(ctx context.Context, rv rival, n int) *other {
	res := &other{}
	if err := e.runRival(ctx, rv, n, res); err != nil {
		res.Error = err.Error()
		e.log("%d routes: %s: %v", n, rv.name, err)
	}
	return res
}

func (e *env) runRival(ctx context.Context, rv rival, n int, res *other) (err error) {
	runDir := filepath.Join(e.dir, fmt.Sprintf("%s-%d", rv.name, n))
	// nginx's workers drop root's privileges and must still reach their
	// temp directories in here.
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	listen, err := freeListen()
	if err != nil {
		return err
	}
	logPath := filepath.Join(runDir, "output.log")
	var cmd *exec.Cmd
	switch rv.name {
	case rivalNginx:
		conf := filepath.Join(runDir, "nginx.conf")
		text := nginxConfig(n, listen, e.backends.addrs(), runDir, logPath)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
		// -e sends even the errors before error_log is read to the log.
		cmd = exec.Command(rv.bin, "-p", runDir, "-e", logPath, "-c", conf)
	case rivalHAProxy:
		conf, mapPath := filepath.Join(runDir, "haproxy.cfg"), filepath.Join(runDir, "routes.map")
		text, routeMap := haproxyConfig(n, listen, e.backends.addrs(), runDir, mapPath, e.o.interval)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(mapPath, []byte(routeMap), 0o644); err != nil {
			return err
		}
		cmd = exec.Command(rv.bin, "-db", "-f", conf)
	default:
		return fmt.Errorf("unknown proxy %q", rv.name)
	}
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	p, err := startProc(rv.name, cmd, out)
	if err != nil {
		return err
	}
	defer func() {
		if s := p.Stop(stopGrace); s.Killed && err == nil {
			err = fmt.Errorf("still running %v after SIGTERM; killed", stopGrace)
		}
		if err != nil {
			err = fmt.Errorf("%w%s", err, logTail(logPath))
		}
	}()

	served, err := waitServed(ctx, newClient(requestLimit), "http://"+listen+probePath(routePrefix(n-1)), serveLimit, p)
	if err != nil {
		return fmt.Errorf("start to serving: %w", err)
	}
	res.StartToServingSeconds = ptr(served.Sub(p.Started()).Seconds())
	if err := sleepUntil(ctx, served.Add(e.o.interval)); err != nil {
		return err
	}
	rss, pss, procs, err := treeMemory(p.Pid())
	if err != nil {
		return err
	}
	res.RSSBytes, res.PSSBytes, res.Processes = ptr(rss), ptr(pss), procs
	e.log("%d routes: %s serves after %.2f s; RSS %s over %d process(es)", n, rv.name, *res.StartToServingSeconds, fmtMiB(rss), procs)
	return nil
}
