package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ferrum/loadtest/proc"
)

// Target names. ferrum always runs; the others come with --compare.
const (
	targetFerrum  = "ferrum"
	targetNginx   = "nginx"
	targetHAProxy = "haproxy"
	// targetHTTPUtil is the plain Go reference, loadtest/refproxy:
	// httputil.ReverseProxy over the default http.Transport.
	targetHTTPUtil = "httputil"
	// targetGoFloor is the same program's -floor mode: a goroutine per
	// client connection passing bytes, the least a Go proxy does.
	targetGoFloor = "gofloor"
	targetDirect  = "direct"
)

// compareTargets are the names --compare accepts, in the order they run.
var compareTargets = []string{targetNginx, targetHAProxy, targetHTTPUtil, targetGoFloor, targetDirect}

// refproxyBin is the file name of the httputil reference's binary, built
// beside ferrum and the backend; gofloor runs it too.
const refproxyBin = "refproxy"

// target is one thing wrk is pointed at.
type target struct {
	name string
	// bin is the proxy program; empty for direct.
	bin string
	// version is the program's own one-line account of itself.
	version string
}

// proxied reports whether a proxy process stands between wrk and the
// backends.
func (t target) proxied() bool { return t.name != targetDirect }

// configs generates the target's config files for s; none for direct.
func (t target) configs(s scenario, l layout) []genFile {
	switch t.name {
	case targetFerrum:
		return ferrumConfig(s, l)
	case targetNginx:
		return nginxConfig(s, l)
	case targetHAProxy:
		return haproxyConfig(s, l)
	case targetHTTPUtil:
		return httputilConfig(s, l)
	case targetGoFloor:
		return goFloorConfig(s, l)
	}
	return nil
}

// command is how the target is started on its main config file conf. GOGC
// goes only to ferrum; empty gogc leaves the harness's own environment. The
// httputil reference takes its setup as flags; its config file only
// records them.
func (t target) command(conf string, l layout, gogc string) *exec.Cmd {
	switch t.name {
	case targetFerrum:
		cmd := exec.Command(t.bin, "-config", conf)
		cmd.Env = os.Environ()
		if gogc != "" {
			cmd.Env = append(cmd.Env, "GOGC="+gogc)
		}
		return cmd
	case targetNginx:
		// -e puts even the start-up errors into the log, before nginx has
		// read error_log from the config.
		return exec.Command(t.bin, "-p", l.runDir, "-e", l.errorLog, "-c", conf)
	case targetHAProxy:
		return exec.Command(t.bin, "-db", "-f", conf)
	case targetHTTPUtil:
		return exec.Command(t.bin, httputilArgs(l)...)
	case targetGoFloor:
		return exec.Command(t.bin, goFloorArgs(l)...)
	}
	return nil
}

// readyPath is what the harness polls to know the target serves: the
// /health that ferrum and the Go references answer themselves, otherwise
// a request through the proxy to the backends.
func (t target) readyPath(s scenario) string {
	if t.name == targetFerrum || t.name == targetHTTPUtil || t.name == targetGoFloor {
		return "/health"
	}
	return s.path
}

// waitReady polls url until it answers 200, the process exits, or timeout
// passes.
func waitReady(ctx context.Context, url string, p *proc.Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		if p != nil {
			if gone, how := p.Exited(); gone {
				return fmt.Errorf("%s exited before it answered GET %s: %s", p.Name(), url, how)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s: no 200 within %v: %w", url, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findTarget looks a compared proxy up, nginx and HAProxy in PATH and the
// httputil reference in binDir, and asks its version. It returns ok false,
// with the line to print, when it is not there.
func findTarget(name, binDir string) (target, string, bool) {
	switch name {
	case targetDirect:
		return target{name: targetDirect, version: "no proxy: wrk to one backend"}, "", true
	case targetHTTPUtil, targetGoFloor:
		bin := filepath.Join(binDir, refproxyBin)
		if _, err := os.Stat(bin); err != nil {
			return target{}, fmt.Sprintf("harness: the Go reference (refproxy) is not in --bin-dir (%v); skipping %s (run once without --skip-build)", err, name), false
		}
		args := []string{"-version"}
		if name == targetGoFloor {
			args = []string{"-floor", "-version"}
		}
		return target{name: name, bin: bin, version: programVersion(bin, args...)}, "", true
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return target{}, fmt.Sprintf("harness: %s is not installed (not in PATH); skipping it (apt-get install %s)", name, name), false
	}
	return target{name: name, bin: bin, version: programVersion(bin, "-v")}, "", true
}

// programVersion is the first line a program prints, on either stream,
// when run with args; many print their version to stderr and exit non-zero.
func programVersion(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return "unknown"
	}
	return strings.TrimSpace(line)
}

// writeFiles writes each file into dir and returns the path of the first,
// the one a program is started on.
func writeFiles(dir string, files []genFile) (string, error) {
	var first string
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.text), 0o644); err != nil {
			return "", err
		}
		if i == 0 {
			first = path
		}
	}
	return first, nil
}
