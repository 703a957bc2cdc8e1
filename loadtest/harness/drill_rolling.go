package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"ferrum/loadtest/proc"
)

// The rolling restart: HAProxy in mode tcp in front of two ferrum
// instances, as an L4 balancer or a Kubernetes Service would be, and each
// instance drained and started again in turn while wrk runs through
// HAProxy.
const (
	// rollingLength is wrk's run; the restarts take about 14 s of it.
	rollingLength = 25 * time.Second
	// rollingSettle is the wait before the first drain and after an
	// instance is back in HAProxy's rotation, so the load has spread over
	// both instances again before the next one goes.
	rollingSettle = 4 * time.Second
	// rollingDelay is ferrum's shutdown_delay: long enough for HAProxy to
	// see /health fail (a check every 250 ms, out after one) and for every
	// busy keep-alive client to get its Connection: close.
	rollingDelay = 2 * time.Second
	// rollingUpBound bounds the wait for HAProxy to put a restarted
	// instance back: two passed checks, 250 ms apart.
	rollingUpBound = 10 * time.Second
	// statEvery is how often the harness asks HAProxy for its view of the
	// servers.
	statEvery = 50 * time.Millisecond
	// rollingBackend is HAProxy's backend section of the ferrum instances.
	rollingBackend = "ferrums"
)

// haproxyBin finds HAProxy: in PATH, else where Debian installs it (sbin
// is not in every user's PATH). It returns "" when there is none.
func haproxyBin() string {
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	return ""
}

// haproxyServer is one server line of HAProxy's backend.
type haproxyServer struct {
	name, addr string
}

// rollingHAProxyConfig is haproxy.cfg for the rolling restart: mode tcp,
// round robin over servers, each checked with GET /health every 250 ms,
// taken out after one failed check and put back after two passed ones, as
// the setup asks. Beyond HAProxy's defaults: the stats socket in
// runDir lets the harness watch the servers' states, and only abnormal
// sessions are logged (tcplog, dontlog-normal), to stdout, so a broken
// connection shows when and where it broke.
func rollingHAProxyConfig(s scenario, listen string, servers []haproxyServer, runDir string) genFile {
	var b strings.Builder
	fmt.Fprintf(&b, "# HAProxy for ferrum's restart drill %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md.\n")
	b.WriteString("global\n")
	for _, line := range []string{
		"maxconn 4096",
		"pidfile " + filepath.Join(runDir, "haproxy.pid"),
		"stats socket " + filepath.Join(runDir, "haproxy.sock") + " mode 600 level user",
		"log stdout format raw local0",
	} {
		indentLine(&b, 1, line)
	}
	b.WriteString("\ndefaults\n")
	for _, line := range []string{
		"mode tcp",
		"log global",
		"option tcplog",
		"option dontlog-normal",
		"timeout connect 3s",
		"timeout client 30s",
		"timeout server 30s",
	} {
		indentLine(&b, 1, line)
	}
	fmt.Fprintf(&b, "\nfrontend proxy\n")
	indentLine(&b, 1, "bind "+listen)
	indentLine(&b, 1, "default_backend "+rollingBackend)
	fmt.Fprintf(&b, "\nbackend %s\n", rollingBackend)
	for _, line := range []string{
		"balance roundrobin",
		"option httpchk GET /health",
		"default-server check inter 250ms fall 1 rise 2",
	} {
		indentLine(&b, 1, line)
	}
	for _, sv := range servers {
		indentLine(&b, 1, fmt.Sprintf("server %s %s", sv.name, sv.addr))
	}
	return genFile{name: "haproxy.cfg", text: b.String()}
}

// parseServerStates reads the CSV of HAProxy's `show stat` and returns the
// status ("UP", "DOWN", "DOWN 1/2", ...) of each server of backend, by
// server name.
func parseServerStates(text, backend string) (map[string]string, error) {
	text, ok := strings.CutPrefix(text, "# ")
	if !ok {
		return nil, fmt.Errorf("show stat: no header line in %.80q", text)
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	if _, ok := col["status"]; !ok || rows[0][px] != "pxname" || rows[0][sv] != "svname" {
		return nil, fmt.Errorf("show stat: header %q lacks pxname, svname or status", strings.Join(rows[0], ","))
	}
	states := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) <= max(px, sv, st) || row[px] != backend || row[sv] == "FRONTEND" || row[sv] == "BACKEND" {
			continue
		}
		states[row[sv]] = row[st]
	}
	return states, nil
}

// serverUp reports whether a `show stat` status puts the server in
// rotation: "UP", or "UP 1/2" while failing checks count towards fall.
func serverUp(status string) bool {
	return status == "UP" || strings.HasPrefix(status, "UP ")
}

// queryStates asks HAProxy on its stats socket for the states of
// backend's servers.
func queryStates(sock, backend string) (map[string]string, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, err
	}
	return parseServerStates(string(b), backend)
}

// stateWatch follows HAProxy's view of the servers: its goroutine asks
// every statEvery, adds each change to the timeline, and publishes the
// latest view.
type stateWatch struct {
	// states is the latest view; written by the watch's goroutine only.
	states atomic.Pointer[map[string]string]
	// changed gets a value when states changed since the last receive; one
	// receiver, the harness's main goroutine.
	changed chan struct{}
	// done is closed when the goroutine has returned.
	done chan struct{}
}

// watchStates starts a stateWatch on the stats socket sock. It runs until
// ctx ends; the caller waits on done before it stops HAProxy.
func watchStates(ctx context.Context, sock string, tl *timeline) *stateWatch {
	w := &stateWatch{changed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var last map[string]string
		var lastErr string
		tick := time.NewTicker(statEvery)
		defer tick.Stop()
		for {
			states, err := queryStates(sock, rollingBackend)
			switch {
			case err != nil && err.Error() != lastErr:
				lastErr = err.Error()
				tl.add("haproxy stats: %v", err)
			case err == nil:
				lastErr = ""
				for name, st := range states {
					if last[name] != st {
						tl.add("haproxy sees %s %s", name, st)
					}
				}
				if !mapsEqual(last, states) {
					last = states
					w.states.Store(&states)
					select {
					case w.changed <- struct{}{}:
					default:
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// mapsEqual reports whether a and b hold the same pairs.
func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitUp waits until HAProxy has every one of names in rotation, ctx ends,
// or bound passes. Only the main goroutine calls it.
func (w *stateWatch) waitUp(ctx context.Context, bound time.Duration, names ...string) error {
	t := time.NewTimer(bound)
	defer t.Stop()
	for {
		all := true
		if p := w.states.Load(); p != nil {
			for _, n := range names {
				all = all && serverUp((*p)[n])
			}
		} else {
			all = false
		}
		if all {
			return nil
		}
		select {
		case <-w.changed:
		case <-t.C:
			return fmt.Errorf("HAProxy did not put %s in rotation within %v", strings.Join(names, " and "), bound)
		case <-ctx.Done():
			return errors.New("interrupted")
		}
	}
}

// rolling runs the rolling restart. It returns the number of drains the
// plan holds, for the verdict, and what went wrong, if anything.
func (d *drillRun) rolling(ctx context.Context, out *drillOutcome) (int, error) {
	const instances = 2
	delay := d.r.o.drillDelay(rollingDelay)
	out.ShutdownDelay = delay.String()
	bin := haproxyBin()
	if bin == "" {
		return instances, errors.New(drillMissing(d.st.s))
	}
	ferrum := d.r.targets[0]
	names := []string{"ferrum-a", "ferrum-b"}
	confs := make([]string, instances)
	addrs := make([]string, instances)
	servers := make([]haproxyServer, instances)
	for i, name := range names {
		addr, err := freePort()
		if err != nil {
			return instances, err
		}
		addrs[i] = addr
		servers[i] = haproxyServer{name: name, addr: addr}
		confs[i] = filepath.Join(d.st.dir, name+".toml")
		if err := os.WriteFile(confs[i], []byte(drillFerrumConfig(d.st.s, addr, d.st.backends, delay)), 0o644); err != nil {
			return instances, err
		}
	}
	start := func(i, n int) (*ferrumProc, error) {
		cmd := exec.Command(ferrum.bin, "-config", confs[i])
		cmd.Env = ferrumEnv(d.r.o.gogc)
		logName := names[i]
		if n > 1 {
			logName = fmt.Sprintf("%s-%d", names[i], n)
		}
		fp, err := d.startFerrum(names[i], cmd, d.logPath(logName))
		if err != nil {
			return nil, err
		}
		if err := waitServing(ctx, fp, drillStartBound); err != nil {
			return fp, err
		}
		return fp, waitReady(ctx, "http://"+addrs[i]+"/health", fp.Process, drillStartBound)
	}
	running := make([]*ferrumProc, instances)
	for i := range instances {
		fp, err := start(i, 1)
		if err != nil {
			return instances, err
		}
		running[i] = fp
	}

	runDir := filepath.Join(d.r.workDir, d.st.s.name+d.suffix)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return instances, err
	}
	listen, err := freePort()
	if err != nil {
		return instances, err
	}
	conf, err := writeFiles(d.st.dir, []genFile{rollingHAProxyConfig(d.st.s, listen, servers, runDir)})
	if err != nil {
		return instances, err
	}
	hlog, err := os.Create(d.logPath("haproxy"))
	if err != nil {
		return instances, err
	}
	defer hlog.Close()
	cmd := exec.Command(bin, "-db", "-f", conf)
	cmd.Stdout, cmd.Stderr = hlog, hlog
	hp, err := proc.Start("haproxy", cmd, proc.Options{})
	if err != nil {
		return instances, err
	}
	d.r.procs.add(hp)
	defer d.r.procs.stop(hp)
	d.tl.add("haproxy started, pid %d, on %s", hp.Pid(), listen)
	wctx, stopWatch := context.WithCancel(ctx)
	w := watchStates(wctx, filepath.Join(runDir, "haproxy.sock"), d.tl)
	defer func() { stopWatch(); <-w.done }()
	if err := w.waitUp(ctx, rollingUpBound, names...); err != nil {
		if gone, how := hp.Exited(); gone {
			return instances, fmt.Errorf("haproxy exited: %v; see its log", how)
		}
		return instances, err
	}

	wrkStart := time.Now()
	wrkDone := d.startWrk(ctx, "http://"+listen+d.st.s.path, rollingLength)
	planErr := func() error {
		for i := range instances {
			if err := pause(ctx, rollingSettle); err != nil {
				return err
			}
			d.drain(running[i].Process)
			if _, err := start(i, 2); err != nil {
				return err
			}
			if err := w.waitUp(ctx, rollingUpBound, names[i]); err != nil {
				return err
			}
			d.tl.add("%s back in rotation", names[i])
		}
		return d.checkTail(wrkStart, rollingLength)
	}()
	return instances, errors.Join(planErr, d.waitWrk(wrkDone))
}
