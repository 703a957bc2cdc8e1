package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"ferrum/loadtest/proc"
	"ferrum/loadtest/procfs"
)

// Bounds on one proxy's phases, so a stuck proxy costs at most these; the
// run's -timeout bounds them all together.
const (
	// serveLimit is how long a proxy may take to serve its last route.
	serveLimit = 2 * time.Minute
	// reloadLimit is how long a reload may take to serve the new route.
	reloadLimit = time.Minute
	// stopGrace is how long a proxy may take to exit after SIGTERM
	// before it is sent SIGKILL.
	stopGrace = 30 * time.Second
	// requestLimit bounds one polling request; scrapeLimit one /metrics
	// scrape, which is large at 10,000 routes.
	requestLimit = 2 * time.Second
	scrapeLimit  = time.Minute
)

// env is what every measurement of one run shares.
type env struct {
	o        options
	ferrum   string // the ferrum binary
	dir      string // this run's config and log files
	backends backendSet
	log      func(format string, args ...any)
}

// row is everything measured for one number of routes. A nil field was
// not measured, because an earlier phase failed or the run was cut short.
type row struct {
	Routes                int      `json:"routes"`
	StartToServingSeconds *float64 `json:"start_to_serving_seconds"`
	// NotServingAfterSeconds is set instead when ferrum was still running
	// but not serving when the tool gave up on it.
	NotServingAfterSeconds *float64 `json:"not_serving_after_seconds,omitempty"`
	RSSBytes               *uint64  `json:"rss_bytes"`
	PeakRSSBytes           *uint64  `json:"peak_rss_bytes"`
	Goroutines             *int     `json:"goroutines"`
	// ActiveProbeFailures is ferrum's own count of failed probes since
	// start, summed over its (route, backend) series.
	ActiveProbeFailures *float64  `json:"active_probe_failures"`
	IdleCPUPercent      *float64  `json:"idle_cpu_percent_of_one_core"`
	IdleWindowSeconds   *float64  `json:"idle_window_seconds"`
	ProbesPerInterval   []float64 `json:"probes_per_backend_per_interval"`
	ProbesMean          *float64  `json:"probes_per_interval_mean"`
	ProbesMax           *float64  `json:"probes_per_interval_max"`
	ProbeWindowSeconds  *float64  `json:"probe_window_seconds"`
	ReloadSeconds       *float64  `json:"sighup_add_route_to_served_seconds"`
	ExitCode            *int      `json:"exit_code"`
	StopSeconds         *float64  `json:"sigterm_to_exit_seconds"`
	Error               string    `json:"error,omitempty"`
	// Warnings name what may have skewed the numbers of this row.
	Warnings []string `json:"warnings,omitempty"`
	Nginx    *other   `json:"nginx,omitempty"`
	HAProxy  *other   `json:"haproxy,omitempty"`
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// freeListen finds a free loopback port. Another process could take it
// before the proxy binds it; on a machine running tests that is rare, and
// the proxy then fails to start, which the tool reports.
func freeListen() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// measureFerrum starts ferrum with n routes and measures it, phase after
// phase, into r. It returns the first failure; r keeps what was measured
// before it. ferrum is stopped on every path.
func (e *env) measureFerrum(ctx context.Context, n int, r *row) (err error) {
	listen, err := freeListen()
	if err != nil {
		return err
	}
	conf := ferrumConfig(n, listen, e.backends.addrs(), e.o.interval)
	confPath := filepath.Join(e.dir, fmt.Sprintf("ferrum-%d.toml", n))
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	logPath := filepath.Join(e.dir, fmt.Sprintf("ferrum-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	p, err := startProc("ferrum", exec.Command(e.ferrum, "-config", confPath), logFile)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			p.Stop(stopGrace)
		}
		if err != nil {
			err = fmt.Errorf("%w%s", err, logTail(logPath))
		}
	}()

	client := newClient(requestLimit)
	base := "http://" + listen
	served, err := waitServed(ctx, client, base+probePath(routePrefix(n-1)), serveLimit, p)
	if wl := (*waitLimitError)(nil); errors.As(err, &wl) {
		r.NotServingAfterSeconds = ptr(time.Since(p.Started()).Seconds())
		return fmt.Errorf("start to serving: %w; %s", err, runningState(p))
	}
	if err != nil {
		return fmt.Errorf("start to serving: %w", err)
	}
	r.StartToServingSeconds = ptr(served.Sub(p.Started()).Seconds())
	e.log("%d routes: ferrum serves /r%d after %.2f s", n, n-1, *r.StartToServingSeconds)

	// One interval after serving, every prober has run once and the
	// proxy is in the state it idles in.
	if err := sleepUntil(ctx, served.Add(e.o.interval)); err != nil {
		return err
	}
	if err := e.idleWindow(ctx, p, r); err != nil {
		return err
	}
	// Scraped after the window: at 10,000 routes /metrics is large, and
	// building it costs CPU and memory that are not the proxy's idle cost.
	m, err := scrapeMetrics(ctx, newClient(scrapeLimit), base)
	if err != nil {
		return fmt.Errorf("goroutines: %w", err)
	}
	r.Goroutines, r.ActiveProbeFailures = ptr(m.goroutines), ptr(m.activeFailures)
	if m.activeFailures > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("ferrum counted %.0f failed probes since start (summed over its route, backend series)", m.activeFailures))
	}

	if err := e.reload(ctx, client, base, confPath, conf, p, r); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	e.log("%d routes: SIGHUP to /new served in %.0f ms; stopping ferrum", n, 1000**r.ReloadSeconds)

	stopped = true
	res := p.Stop(stopGrace)
	r.ExitCode = ptr(res.ExitCode)
	r.StopSeconds = ptr(res.Took.Seconds())
	switch {
	case res.AlreadyGone:
		return fmt.Errorf("ferrum ended before SIGTERM, exit code %d", res.ExitCode)
	case res.Killed:
		return fmt.Errorf("ferrum still running %v after SIGTERM; killed", stopGrace)
	case res.ExitCode != 0:
		return fmt.Errorf("ferrum exited with code %d after SIGTERM, want 0", res.ExitCode)
	}
	return nil
}

// idleWindow measures, with no traffic, ferrum's CPU over the idle window
// and the probes the backends receive over the probe window, both starting
// now, and its memory at the end of the longer one.
func (e *env) idleWindow(ctx context.Context, p *proc.Process, r *row) error {
	cpu0, err := procfs.ReadStat(p.Pid())
	if err != nil {
		return fmt.Errorf("idle CPU: %w", err)
	}
	probes0 := e.backends.probes()
	t0 := time.Now()
	idleEnd := t0.Add(e.o.idleWindow)
	probeEnd := t0.Add(time.Duration(e.o.probeIntervals) * e.o.interval)
	e.log("%d routes: measuring idle CPU over %v and probes over %v", r.Routes, e.o.idleWindow, probeEnd.Sub(t0))

	readCPU := func() error {
		cpu1, err := procfs.ReadStat(p.Pid())
		if err != nil {
			return fmt.Errorf("idle CPU: %w", err)
		}
		window := time.Since(t0).Seconds()
		r.IdleWindowSeconds = ptr(window)
		r.IdleCPUPercent = ptr(100 * (cpu1.CPUSeconds() - cpu0.CPUSeconds()) / window)
		return nil
	}
	readProbes := func() error {
		now := time.Now()
		window := now.Sub(t0)
		rates := probeRates(probes0, e.backends.probes(), t0, now, e.o.interval)
		r.ProbesPerInterval = rates
		r.ProbeWindowSeconds = ptr(window.Seconds())
		r.ProbesMean = ptr(mean(rates))
		r.ProbesMax = ptr(slices.Max(rates))
		return nil
	}
	type reading struct {
		at   time.Time
		read func() error
	}
	readings := []reading{{idleEnd, readCPU}, {probeEnd, readProbes}}
	slices.SortStableFunc(readings, func(a, b reading) int { return a.at.Compare(b.at) })
	for _, s := range readings {
		if err := sleepUntil(ctx, s.at); err != nil {
			return err
		}
		if err := s.read(); err != nil {
			return err
		}
	}
	m, err := procfs.ReadStatus(p.Pid())
	if err != nil {
		return fmt.Errorf("RSS: %w", err)
	}
	r.RSSBytes, r.PeakRSSBytes = ptr(m.RSS), ptr(m.HWM)
	return nil
}

// reload checks that newRoute is not served, writes the config with it
// added, sends SIGHUP and times the wait until newRoute answers 200.
func (e *env) reload(ctx context.Context, client *http.Client, base, confPath, conf string, p *proc.Process, r *row) error {
	url := base + probePath(newRoute)
	code, err := getStatus(ctx, client, url)
	if err != nil {
		return err
	}
	if code == http.StatusOK {
		return fmt.Errorf("GET %s answered 200 before the route was added", url)
	}
	// Replaced in one rename, so ferrum never reads half a file.
	tmp := confPath + ".next"
	if err := os.WriteFile(tmp, []byte(withNewRoute(conf, e.backends.addrs())), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, confPath); err != nil {
		return err
	}
	sent := time.Now()
	if err := p.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	served, err := waitServed(ctx, client, url, reloadLimit, p)
	if err != nil {
		return err
	}
	r.ReloadSeconds = ptr(served.Sub(sent).Seconds())
	return nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// runningState describes a process the tool is giving up on: how much
// memory and CPU it has taken so far.
func runningState(p *proc.Process) string {
	m, err := procfs.ReadStatus(p.Pid())
	if err != nil {
		return "its state unreadable: " + err.Error()
	}
	st, err := procfs.ReadStat(p.Pid())
	if err != nil {
		return "its state unreadable: " + err.Error()
	}
	return fmt.Sprintf("%s was running with RSS %s, %.1f s of CPU in %.1f s", p.Name(), fmtMiB(m.RSS), st.CPUSeconds(), time.Since(p.Started()).Seconds())
}

// logTail is the end of a proxy's log, for an error message: the proxy
// logs at warn, so its last lines say why it failed, if it knows.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "\n--- end of " + filepath.Base(path) + " ---\n" + string(b)
}

// errInterrupted reports a run that its -timeout or a signal cut short.
var errInterrupted = errors.New("interrupted")

// interruption turns the end of the run's context into an error that says
// which end it was.
func interruption(ctx context.Context, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("%w: -timeout %v reached", errInterrupted, timeout)
	}
	return fmt.Errorf("%w: %v", errInterrupted, context.Cause(ctx))
}
