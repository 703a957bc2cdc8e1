package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"ferrum/loadtest/proc"
)

// buildBinaries builds ferrum, the backend and the httputil reference in
// release mode (no symbol tables, no local paths) into binDir, with the go
// command's output on stderr.
func buildBinaries(ctx context.Context, root, binDir string, stderr io.Writer) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	release := []string{"-trimpath", "-ldflags", "-s -w"}
	return proc.Build(ctx, root, binDir, release, stderr, proc.Ferrum, proc.Backend, proc.Binary{Name: refproxyBin, Pkg: "./loadtest/refproxy"})
}

// meta describes the run: when, where, with what, and how.
type meta struct {
	Started  string            `json:"started"`
	Finished string            `json:"finished"`
	Host     map[string]string `json:"host"`
	Cores    int               `json:"cores"`
	Versions map[string]string `json:"versions"`
	Settings map[string]string `json:"settings"`
}

// collectMeta gathers the versions and settings the summary reports.
func collectMeta(r *runner) meta {
	m := meta{
		Started:  time.Now().UTC().Format(time.RFC3339),
		Cores:    runtime.NumCPU(),
		Host:     map[string]string{"kernel": readFirstLine("/proc/sys/kernel/osrelease"), "cpu": cpuModel()},
		Versions: map[string]string{"wrk": programVersion(r.o.wrkBin, "-v")},
		Settings: map[string]string{
			"duration":    r.o.duration.String(),
			"warmup":      r.o.warmup.String(),
			"threads":     fmt.Sprint(r.o.threads),
			"connections": fmt.Sprint(r.o.connections),
			"rounds":      fmt.Sprint(r.o.rounds),
			"gogc":        r.o.gogc,
		},
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.Versions["go"] = strings.TrimSpace(string(out))
	}
	for _, t := range r.targets {
		if t.proxied() {
			m.Versions[t.name] = t.version
		}
	}
	return m
}

// readFirstLine is the first line of a file, or "unknown".
func readFirstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// progress prints where the run is and how long it has left. Only the main
// goroutine uses it.
type progress struct {
	w       io.Writer
	total   int           // passes in the run
	done    int           // passes finished
	nominal time.Duration // expected length of one pass, until one is timed
	start   time.Time     // the run's start
	passAt  time.Time     // the current pass's start
}

func newProgress(w io.Writer, total int, nominal time.Duration) *progress {
	now := time.Now()
	return &progress{w: w, total: total, nominal: nominal, start: now, passAt: now}
}

// phase reports that a phase of d begins in the current pass.
func (p *progress) phase(s scenario, t target, round int, what string, d time.Duration) {
	perPass := p.nominal
	if p.done > 0 {
		perPass = time.Since(p.start) / time.Duration(p.done)
	}
	left := perPass*time.Duration(p.total-p.done) - time.Since(p.passAt)
	fmt.Fprintf(p.w, "harness: [%d/%d] %s via %s, round %d: %s %v; about %v left\n",
		p.done+1, p.total, s.name, t.name, round+1, what, d, max(left, d).Round(time.Second))
}

// skip takes n passes that will not run out of the count.
func (p *progress) skip(n int) {
	p.total -= n
}

// passDone marks the current pass finished.
func (p *progress) passDone() {
	p.done++
	p.passAt = time.Now()
}
