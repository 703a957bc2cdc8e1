package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"ferrum/loadtest/proc"
)

// drillKind names a restart drill: a scenario that runs ferrum as an
// operator would, restarts it under wrk, and is judged PASS or FAIL.
type drillKind string

const (
	// drillRolling is rolling_restart (drill_rolling.go).
	drillRolling drillKind = "rolling"
	// drillUpgrade is socket_upgrade (drill_upgrade.go).
	drillUpgrade drillKind = "upgrade"
)

// drillScenarios are the restart drills. "all" leaves them out: they
// measure no throughput, need HAProxy, and take a fixed time of their own;
// --scenarios runs them when it names them.
var drillScenarios = []scenario{
	{
		name:     "rolling_restart",
		about:    "HAProxy (mode tcp, GET /health checks) over two ferrum instances, each drained and started again in turn under wrk",
		backends: twins("rolling", "-body-bytes", strconv.Itoa(kib)),
		routes:   1,
		path:     "/bench",
		drill:    drillRolling,
	},
	{
		name:     "socket_upgrade",
		about:    "ferrum on a listening socket the harness holds, as systemd passes it, replaced twice under wrk as systemctl restart does",
		backends: twins("upgrade", "-body-bytes", strconv.Itoa(kib)),
		routes:   1,
		path:     "/bench",
		drill:    drillUpgrade,
	},
}

// Settings both drills share.
const (
	// drillGraceful is ferrum's graceful_shutdown_timeout in the drills:
	// the answers here take milliseconds, so a few seconds is plenty, and
	// it keeps shutdown_delay plus it well under stopGrace.
	drillGraceful = 5 * time.Second
	// drillStartBound bounds the wait for a started ferrum to serve.
	drillStartBound = 10 * time.Second
	// drillTailMargin is how long wrk must still run after the last
	// restart for the drill to count it as done under load.
	drillTailMargin = time.Second
)

// target is the name of what wrk is pointed at in the drill, for its row
// in the summary.
func (k drillKind) target() string {
	switch k {
	case drillRolling:
		return "haproxy over 2 ferrum"
	case drillUpgrade:
		return "ferrum on a held socket"
	}
	return string(k)
}

// length is how long wrk runs in the drill.
func (k drillKind) length() time.Duration {
	if k == drillRolling {
		return rollingLength
	}
	return upgradeLength
}

// drillMissing says why s cannot run on this machine, or "" when it can:
// only rolling_restart needs a program the harness does not build.
func drillMissing(s scenario) string {
	if s.drill == drillRolling && haproxyBin() == "" {
		return "haproxy is not installed (not in PATH nor /usr/sbin); install it with `apt-get install -y haproxy`"
	}
	return ""
}

// drillExit is how one drained ferrum process ended.
type drillExit struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Code is the exit status, or -1 when a signal ended the process.
	Code int `json:"exit_code"`
	// Error says the process had to be killed, or had exited before it
	// was sent SIGTERM.
	Error string `json:"error,omitempty"`
}

// drillOutcome is what a drill adds to its pass: the setup it chose, how
// every drained process ended, what happened when, and the verdict.
type drillOutcome struct {
	ShutdownDelay string      `json:"shutdown_delay"`
	Order         string      `json:"order,omitempty"`
	Exits         []drillExit `json:"exits"`
	Timeline      []string    `json:"timeline"`
	TimelineFile  string      `json:"timeline_file"`
	Pass          bool        `json:"pass"`
	Reasons       []string    `json:"reasons,omitempty"`
}

// judgeDrill is the verdict on a drill: it passes when wrk counted
// requests, no socket error and no answer outside 2xx and 3xx, want
// processes were drained and every one exited 0 by itself, and nothing
// else went wrong (errText, the pass's Error). Reasons lists every
// failure.
func judgeDrill(rep wrkReport, exits []drillExit, want int, errText string) (bool, []string) {
	var reasons []string
	if errText != "" {
		reasons = append(reasons, errText)
	}
	if rep.Requests == 0 {
		reasons = append(reasons, "wrk counted no requests")
	}
	if n := rep.socketErrors(); n > 0 {
		reasons = append(reasons, fmt.Sprintf("%d socket errors (%s)", n, socketErrorParts(rep)))
	}
	if rep.Non2xx > 0 {
		reasons = append(reasons, fmt.Sprintf("%d answers outside 2xx/3xx", rep.Non2xx))
	}
	if len(exits) < want {
		reasons = append(reasons, fmt.Sprintf("%d of %d drains done", len(exits), want))
	}
	for _, e := range exits {
		switch {
		case e.Error != "":
			reasons = append(reasons, e.Error)
		case e.Code != 0:
			reasons = append(reasons, fmt.Sprintf("%s (pid %d) exited %s", e.Name, e.PID, exitText(e.Code)))
		}
	}
	return len(reasons) == 0, reasons
}

// socketErrorParts is wrk's socket error counts, as wrk words them.
func socketErrorParts(rep wrkReport) string {
	return fmt.Sprintf("connect %d, read %d, write %d, timeout %d", rep.ConnectErrors, rep.ReadErrors, rep.WriteErrors, rep.Timeouts)
}

// exitText is an exit code for people: the number, or "on a signal" for -1.
func exitText(code int) string {
	if code < 0 {
		return "on a signal"
	}
	return strconv.Itoa(code)
}

// drillLine is one pass of a drill in a sentence, for the summary.
func drillLine(scenario string, p passResult) string {
	d := p.Drill
	if d == nil {
		return fmt.Sprintf("%s, round %d: no verdict: %s", scenario, p.Round, p.Error)
	}
	verdict := "PASS"
	if !d.Pass {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, round %d: **%s**. shutdown_delay %s", scenario, p.Round, verdict, d.ShutdownDelay)
	if d.Order != "" {
		fmt.Fprintf(&b, ", order %s", d.Order)
	}
	fmt.Fprintf(&b, "; %d requests, %d socket errors (%s), %d non-2xx",
		p.Report.Requests, p.Report.socketErrors(), socketErrorParts(p.Report), p.Report.Non2xx)
	exits := make([]string, len(d.Exits))
	for i, e := range d.Exits {
		exits[i] = e.Name + " " + exitText(e.Code)
	}
	fmt.Fprintf(&b, "; exit codes: %s", strings.Join(exits, ", "))
	if !d.Pass {
		fmt.Fprintf(&b, ". Why: %s", strings.Join(d.Reasons, "; "))
	}
	fmt.Fprintf(&b, ". Timeline: %s", d.TimelineFile)
	return b.String()
}

// timeline records what happened when during a drill, as offsets from its
// start. Every goroutine of the drill may add to it; mu orders them.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string // written under mu
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

// add records an event now.
func (t *timeline) add(format string, args ...any) {
	line := fmt.Sprintf("%+8.3fs  ", time.Since(t.start).Seconds()) + fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.lines = append(t.lines, line)
	t.mu.Unlock()
}

// snapshot is a copy of the events so far.
func (t *timeline) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// runDrill runs st's drill once per round and returns its one cell. The
// scenario's backends are already running.
func (r *runner) runDrill(ctx context.Context, st *stage) ([]cell, error) {
	c := cell{Scenario: st.s.name, Target: st.s.drill.target(), Drill: true}
	for round := range r.o.rounds {
		if ctx.Err() != nil {
			return []cell{c}, ctx.Err()
		}
		res := r.drillPass(ctx, st, round)
		r.progress.passDone()
		fmt.Fprintln(r.stderr, "harness:", drillLine(st.s.name, res))
		c.Passes = append(c.Passes, res)
	}
	return []cell{c}, nil
}

// drillPass runs one round of st's drill and judges it.
func (r *runner) drillPass(ctx context.Context, st *stage, round int) passResult {
	suffix := ""
	if r.o.rounds > 1 {
		suffix = ".r" + strconv.Itoa(round+1)
	}
	r.progress.phase(st.s, target{name: st.s.drill.target()}, round, "restart drill", st.s.drill.length())
	d := &drillRun{r: r, st: st, suffix: suffix, tl: newTimeline()}
	res := passResult{Round: round + 1, Drill: &drillOutcome{}}
	stat0, _ := readCPUTimes()
	var want int
	var err error
	switch st.s.drill {
	case drillRolling:
		want, err = d.rolling(ctx, res.Drill)
	case drillUpgrade:
		want, err = d.upgrade(ctx, res.Drill)
	default:
		err = fmt.Errorf("unknown drill %q", st.s.drill)
	}
	// The last ferrum still serves, and a failed plan may leave others.
	for i := len(d.started) - 1; i >= 0; i-- {
		d.r.procs.stop(d.started[i])
	}
	stat1, _ := readCPUTimes()
	res.StealPercent = stealPercent(stat0, stat1)
	res.StealFlagged = res.StealPercent > stealLimit
	switch {
	case ctx.Err() != nil:
		res.Error = "interrupted"
		d.tl.add("interrupted")
	case err != nil:
		// One line, for the summary's lists.
		res.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
		d.tl.add("error: %s", res.Error)
	}
	if d.wrkOut != nil {
		res.ReportFile = filepath.Join(st.s.name, "wrk"+suffix+".txt")
		if werr := os.WriteFile(filepath.Join(r.out, res.ReportFile), d.wrkOut, 0o644); werr != nil && res.Error == "" {
			res.Error = werr.Error()
		}
		rep, perr := parseWrk(string(d.wrkOut))
		if perr != nil && res.Error == "" {
			res.Error = perr.Error()
		}
		res.Report = rep
	}
	res.Drill.Exits = d.exits
	res.Drill.Pass, res.Drill.Reasons = judgeDrill(res.Report, d.exits, want, res.Error)
	res.Drill.Timeline = d.tl.snapshot()
	res.Drill.TimelineFile = filepath.Join(st.s.name, "timeline"+suffix+".txt")
	text := strings.Join(res.Drill.Timeline, "\n") + "\n"
	if werr := os.WriteFile(filepath.Join(r.out, res.Drill.TimelineFile), []byte(text), 0o644); werr != nil && res.Error == "" {
		res.Error = werr.Error()
	}
	return res
}

// drillRun is one round of a drill in progress. Only the harness's main
// goroutine uses it; tl is the exception, shared with the log readers.
type drillRun struct {
	r      *runner
	st     *stage
	suffix string // ".rN" when there are rounds, else ""
	tl     *timeline
	// started is every ferrum the round started, stopped when it ends
	// (stopping one again does nothing).
	started []*proc.Process
	exits   []drillExit // the drained processes, in order
	wrkOut  []byte      // wrk's report, once it ended
}

// logPath is the path of a log file named name in the scenario's folder.
func (d *drillRun) logPath(name string) string {
	return filepath.Join(d.st.dir, name+d.suffix+".log")
}

// wrkResult is one wrk pass that ran in the background.
type wrkResult struct {
	out []byte
	err error
}

// startWrk runs wrk at url for length in a goroutine of its own and
// returns where its result will come, once; the goroutine ends with wrk,
// which a cancelled ctx interrupts.
func (d *drillRun) startWrk(ctx context.Context, url string, length time.Duration) <-chan wrkResult {
	done := make(chan wrkResult, 1)
	d.tl.add("wrk starts: -t%d -c%d -d%v %s", d.r.o.threads, d.r.o.connections, length, url)
	go func() {
		out, _, err := d.r.wrk(ctx, d.st, url, length, true)
		d.tl.add("wrk ended")
		done <- wrkResult{out: out, err: err}
	}()
	return done
}

// waitWrk waits for the wrk pass started by startWrk and keeps its report.
func (d *drillRun) waitWrk(done <-chan wrkResult) error {
	w := <-done
	d.wrkOut = w.out
	if w.err != nil {
		return fmt.Errorf("wrk: %w", w.err)
	}
	return nil
}

// checkTail fails when the restarts ended too late for wrk to have run
// through them: the drill would then have restarted ferrum without load.
func (d *drillRun) checkTail(wrkStart time.Time, length time.Duration) error {
	if left := length - time.Since(wrkStart); left < drillTailMargin {
		return fmt.Errorf("the restarts ended %v before wrk's run did, want at least %v", left.Round(time.Millisecond), drillTailMargin)
	}
	return nil
}

// ferrumProc is a ferrum process whose log the harness reads as ferrum
// writes it: every line goes to a file, and the events a drill times go
// to its timeline as well.
type ferrumProc struct {
	*proc.Process
	// serving is closed at the first server_start line.
	serving chan struct{}
}

// timedEvents are the log events a drill's timeline shows.
var timedEvents = []string{"msg=socket_activation", "msg=server_start", "msg=shutdown_started", "msg=shutdown_complete"}

// maxLoggedWarnings caps the warnings and errors of one process that go to
// the timeline; the log file has them all.
const maxLoggedWarnings = 20

// startFerrum starts cmd, a ferrum, as name, with its output in logPath,
// and adds it to the harness's processes.
func (d *drillRun) startFerrum(name string, cmd *exec.Cmd, logPath string) (*ferrumProc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = log
	pipe, err := cmd.StderrPipe()
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	fp := &ferrumProc{serving: make(chan struct{})}
	copied := make(chan struct{})
	p, err := proc.Start(name, cmd, proc.Options{BeforeWait: func() { <-copied; log.Close() }})
	if err != nil {
		log.Close()
		return nil, err
	}
	fp.Process = p
	d.r.procs.add(p)
	d.started = append(d.started, p)
	d.tl.add("%s started, pid %d", name, p.Pid())
	go func() {
		defer close(copied)
		d.readLog(name, pipe, log, fp.serving)
	}()
	return fp, nil
}

// readLog copies a ferrum's log from pipe to log, adds its timed events to
// the timeline and closes serving at the first server_start. It returns
// when the pipe ends.
func (d *drillRun) readLog(name string, pipe io.Reader, log io.Writer, serving chan struct{}) {
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 0, 64*kib), 1<<20)
	started, warnings := false, 0
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		for _, ev := range timedEvents {
			if strings.Contains(line, ev) {
				d.tl.add("%s: %s", name, strings.TrimPrefix(ev, "msg="))
			}
		}
		if !started && strings.Contains(line, "msg=server_start") {
			started = true
			close(serving)
		}
		if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && warnings < maxLoggedWarnings {
			warnings++
			d.tl.add("%s logged: %s", name, line)
		}
	}
	io.Copy(log, pipe)
}

// waitServing waits until fp logs server_start, exits, or bound passes.
func waitServing(ctx context.Context, fp *ferrumProc, bound time.Duration) error {
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-fp.serving:
		return nil
	case <-fp.Done():
		_, how := fp.Exited()
		return fmt.Errorf("%s exited before it served: %s; see its log", fp.Name(), how)
	case <-t.C:
		return fmt.Errorf("%s logged no server_start within %v", fp.Name(), bound)
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}

// drain sends p SIGTERM, waits until it is gone (SIGKILL after stopGrace)
// and records how it ended, and which of the host's TCP error counters
// grew meanwhile.
func (d *drillRun) drain(p *proc.Process) drillExit {
	before := readTCPCounters()
	d.tl.add("SIGTERM to %s (pid %d)", p.Name(), p.Pid())
	err := d.r.procs.stop(p)
	e := drillExit{Name: p.Name(), PID: p.Pid(), Code: p.ExitCode()}
	if err != nil {
		e.Error = err.Error()
	}
	d.tl.add("%s exited %s", p.Name(), exitText(e.Code))
	if grew := counterDeltas(before, readTCPCounters()); grew != "" {
		d.tl.add("while %s drained, the host's TCP counters grew: %s", p.Name(), grew)
	}
	d.exits = append(d.exits, e)
	return e
}

// pause waits for dur, or until ctx ends.
func pause(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}

// ferrumEnv is the harness's environment for a ferrum: GOGC as --gogc
// says, and no socket activation variables of the harness's own.
func ferrumEnv(gogc string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LISTEN_PID" || k == "LISTEN_FDS" || k == "LISTEN_FDNAMES" || (gogc != "" && k == "GOGC") {
			continue
		}
		env = append(env, kv)
	}
	if gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	return env
}

// drillFerrumConfig is ferrum.toml for a drill: one catch-all route over
// the backends, the given shutdown_delay, drillGraceful to finish, and
// logs at info, so the drill sees server_start and the drain's events.
func drillFerrumConfig(s scenario, listen string, backends []string, delay time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferrum for the restart drill %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md.\n\n")
	fmt.Fprintf(&b, "[server]\nlisten = %q\nshutdown_delay = %q\ngraceful_shutdown_timeout = %q\nidle_timeout = %q\n\n",
		listen, delay.String(), drillGraceful.String(), clientIdle)
	fmt.Fprintf(&b, "[upstream]\nmax_idle_conns_per_backend = %d\n\n", upstreamIdle)
	b.WriteString("[log]\nlevel = \"info\"\n")
	urls := make([]string, len(backends))
	for i, a := range backends {
		urls[i] = strconv.Quote("http://" + a)
	}
	fmt.Fprintf(&b, "\n[[route]]\npath_prefix = \"/\"\nbackends = [%s]\nbalancing = \"round_robin\"\n", strings.Join(urls, ", "))
	return b.String()
}
