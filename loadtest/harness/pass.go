package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"ferrum/loadtest/proc"
	"ferrum/loadtest/procfs"
)

const (
	// readyTimeout bounds the wait for a started proxy to answer.
	readyTimeout = 20 * time.Second
	// rssEvery is how often the proxy's resident memory is sampled.
	rssEvery = 100 * time.Millisecond
	// stealLimit is the steal share above which a pass is flagged: the
	// host took enough of the CPUs that the numbers say less.
	stealLimit = 5.0
	// otherLimit is the same for CPU time that went to programs outside
	// the benchmark, such as a test run in another terminal.
	otherLimit = 5.0
)

// passResult is one measured pass of one target through one scenario.
type passResult struct {
	Round  int       `json:"round"`
	Report wrkReport `json:"wrk"`
	// CPUSeconds is the proxy's utime+stime during the measured pass, its
	// processes (nginx's workers) summed; 0 for direct.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSSBytes is the highest sum of VmRSS sampled during the pass, and
	// HWMBytes the sum of VmHWM (the processes' lifetime peaks) after it.
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	HWMBytes     uint64 `json:"vm_hwm_bytes"`
	// StealPercent is the host's CPU steal over the pass, from /proc/stat.
	StealPercent float64 `json:"steal_percent"`
	StealFlagged bool    `json:"steal_flagged"`
	// OtherPercent is the share of the machine's CPU time that went to
	// anything but the proxy, the backends, wrk and the harness: other
	// programs, kernel threads, steal.
	OtherPercent float64 `json:"other_cpu_percent"`
	OtherFlagged bool    `json:"other_cpu_flagged"`
	// BackendCPUSeconds and WrkCPUSeconds show how the machine's CPUs were
	// shared between the load generator, the backends and the proxy.
	BackendCPUSeconds float64 `json:"backend_cpu_seconds"`
	WrkCPUSeconds     float64 `json:"wrk_cpu_seconds"`
	// UpstreamOpen counts connections to the backends open at the end of
	// the pass; UpstreamChurn those both opened and closed during it (see
	// connCensus). A proxy that reuses its upstream connections keeps it
	// near zero.
	UpstreamOpen  int `json:"upstream_conns_open"`
	UpstreamChurn int `json:"upstream_conns_churned"`
	// Report is the wrk report file, relative to the run folder.
	ReportFile string `json:"report_file"`
	// Error says why the pass has no numbers, or what went wrong around it.
	Error string `json:"error,omitempty"`
	// Drill is the restart drill's own account and verdict; nil for a
	// benchmark pass.
	Drill *drillOutcome `json:"drill,omitempty"`
}

// cpuMsPer1k is the proxy's CPU milliseconds per thousand requests.
func (p passResult) cpuMsPer1k() float64 {
	if p.Report.Requests == 0 {
		return 0
	}
	return p.CPUSeconds * 1e6 / float64(p.Report.Requests)
}

// stage is one scenario's running backends and generated files, shared by
// the passes of every target.
type stage struct {
	s            scenario
	dir          string // the scenario's folder in the run folder
	script       string // wrk Lua script, or ""
	backends     []string
	backendPids  []int
	backendPorts map[int]bool
	layouts      map[string]layout
	configs      map[string]string // target name to main config path
}

// runPass runs one target through st: start it, wait for it, warm up,
// measure, collect, stop. Whatever fails lands in the result's Error.
func (r *runner) runPass(ctx context.Context, st *stage, t target, round int) passResult {
	res := passResult{Round: round + 1}
	suffix := ""
	if r.o.rounds > 1 {
		suffix = ".r" + strconv.Itoa(round+1)
	}
	fail := func(err error) passResult { res.Error = err.Error(); return res }
	base := "http://" + st.backends[st.s.direct]
	var p *proc.Process
	if t.proxied() {
		l := st.layouts[t.name]
		base = "http://" + l.listen
		if err := os.MkdirAll(l.runDir, 0o755); err != nil {
			return fail(err)
		}
		log, err := os.Create(filepath.Join(st.dir, t.name+suffix+".log"))
		if err != nil {
			return fail(err)
		}
		defer log.Close()
		cmd := t.command(st.configs[t.name], l, r.o.gogc)
		cmd.Stdout, cmd.Stderr = log, log
		if p, err = proc.Start(t.name, cmd, proc.Options{}); err != nil {
			return fail(err)
		}
		r.procs.add(p)
		defer func() {
			if err := r.procs.stop(p); err != nil && res.Error == "" {
				res.Error = err.Error()
			}
		}()
		if err := waitReady(ctx, base+t.readyPath(st.s), p, readyTimeout); err != nil {
			return fail(err)
		}
	}
	url := base + st.s.path
	if r.o.warmup > 0 {
		r.progress.phase(st.s, t, round, "warm-up", r.o.warmup)
		if _, _, err := r.wrk(ctx, st, url, r.o.warmup, false); ctx.Err() != nil {
			return fail(errors.New("interrupted"))
		} else if err != nil {
			return fail(fmt.Errorf("warm-up: %w", err))
		}
	}

	var tree []int
	if p != nil {
		tree = procfs.Tree(p.Pid())
	}
	self := []int{os.Getpid()}
	cpu0, backend0, self0 := treeCPUSeconds(tree), treeCPUSeconds(st.backendPids), treeCPUSeconds(self)
	stat0, _ := readCPUTimes()
	conns0 := readCensus(st.backendPorts)
	stopSampling := make(chan struct{})
	peak := sampleRSS(tree, stopSampling)

	r.progress.phase(st.s, t, round, "measuring", r.o.duration)
	out, wrkCPU, wrkErr := r.wrk(ctx, st, url, r.o.duration, true)

	close(stopSampling)
	res.PeakRSSBytes = <-peak
	res.CPUSeconds = treeCPUSeconds(tree) - cpu0
	res.HWMBytes = treeMem(tree).HWM
	stat1, _ := readCPUTimes()
	res.BackendCPUSeconds = treeCPUSeconds(st.backendPids) - backend0
	res.WrkCPUSeconds = wrkCPU
	own := res.CPUSeconds + res.BackendCPUSeconds + res.WrkCPUSeconds + treeCPUSeconds(self) - self0
	res.StealPercent = stealPercent(stat0, stat1)
	res.StealFlagged = res.StealPercent > stealLimit
	res.OtherPercent = otherPercent(stat0, stat1, own)
	res.OtherFlagged = res.OtherPercent > otherLimit
	conns1 := readCensus(st.backendPorts)
	res.UpstreamOpen, res.UpstreamChurn = conns1.established, newlyClosed(conns0, conns1)

	res.ReportFile = filepath.Join(st.s.name, t.name+suffix+".wrk.txt")
	if err := os.WriteFile(filepath.Join(r.out, res.ReportFile), out, 0o644); err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return fail(errors.New("interrupted"))
	}
	if wrkErr != nil {
		return fail(fmt.Errorf("measured pass: %w", wrkErr))
	}
	if p != nil {
		if gone, how := p.Exited(); gone {
			return fail(fmt.Errorf("%s exited during the measured pass: %s; see its log", t.name, how))
		}
	}
	if t.name == targetFerrum {
		for path, name := range map[string]string{"/metrics": ".metrics.txt", "/health/backends": ".backends.json"} {
			if err := saveURL(ctx, base+path, filepath.Join(st.dir, t.name+suffix+name)); err != nil {
				res.Error = err.Error()
			}
		}
	}
	rep, err := parseWrk(string(out))
	if err != nil {
		return fail(err)
	}
	res.Report = rep
	return res
}

// wrk runs one wrk pass at url and returns everything it printed and the
// CPU seconds it used. A cancelled ctx interrupts wrk, which then still
// prints its report.
func (r *runner) wrk(ctx context.Context, st *stage, url string, d time.Duration, latency bool) ([]byte, float64, error) {
	args := []string{
		"-t", strconv.Itoa(r.o.threads), "-c", strconv.Itoa(r.o.connections),
		"-d", strconv.Itoa(int(d/time.Second)) + "s",
	}
	if latency {
		args = append(args, "--latency")
	}
	if st.script != "" {
		args = append(args, "-s", st.script)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, r.o.wrkBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var cpu float64
	if ps := cmd.ProcessState; ps != nil {
		cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if err != nil {
		return out.Bytes(), cpu, fmt.Errorf("%s %v: %w", r.o.wrkBin, args, err)
	}
	return out.Bytes(), cpu, nil
}

// sampleRSS samples the summed VmRSS of pids every rssEvery until stop is
// closed, then sends the highest sum seen. It owns the goroutine it starts,
// which ends with stop.
func sampleRSS(pids []int, stop <-chan struct{}) <-chan uint64 {
	peak := make(chan uint64, 1)
	go func() {
		var highest uint64
		tick := time.NewTicker(rssEvery)
		defer tick.Stop()
		for {
			if len(pids) > 0 {
				highest = max(highest, treeMem(pids).RSS)
			}
			select {
			case <-stop:
				peak <- highest
				return
			case <-tick.C:
			}
		}
	}()
	return peak
}

// saveURL writes the body of GET url into path.
func saveURL(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("save %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("save %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("save %s: status %d", url, resp.StatusCode)
	}
	return os.WriteFile(path, body, 0o644)
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the proxy binds it; on a benchmark machine none does.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
