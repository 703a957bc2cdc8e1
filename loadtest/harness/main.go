// Command harness load-tests ferrum with wrk and, on request, nginx, HAProxy,
// the plain Go reference (loadtest/refproxy) and the bare backend beside it,
// on the same machine, in the same run, against the same backends. It builds
// ferrum, loadtest/backend and loadtest/refproxy, runs each scenario's
// warm-up and measured passes, and writes the wrk reports, the configs used,
// ferrum's /metrics and /health/backends, and a summary into
// benchmark-results/<UTC YYYYMMDD-HHMMSS>/.
//
//	go run ./loadtest/harness --duration 10s --compare nginx,haproxy,httputil,direct
//
// It needs Linux (/proc) and wrk; docs/benchmarking.md explains the flags,
// the scenarios and how to read the results.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"ferrum/loadtest/cli"
	"ferrum/loadtest/proc"
)

func main() { cli.Main(run) }

// runner holds what every scenario of one run shares. Only the main
// goroutine uses it.
type runner struct {
	o          options
	targets    []target
	backendBin string
	out        string // this run's results folder
	workDir    string // pid and temp files of the proxies
	tempBin    string // the binaries' folder when the harness made it
	procs      procSet
	progress   *progress
	stderr     io.Writer
}

// run is the whole harness; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return cli.UsageExit("harness", err, stderr)
	}
	if o.wrkBin, err = exec.LookPath(o.wrkBin); err != nil {
		fmt.Fprintf(stderr, "harness: wrk not found (%v); install it with `apt-get install wrk`, or point --wrk-bin at it\n", err)
		return 1
	}
	r := &runner{o: o, stderr: stderr}
	if err := r.prepare(ctx); err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	defer os.RemoveAll(r.workDir)
	if r.tempBin != "" {
		defer os.RemoveAll(r.tempBin)
	}
	defer r.procs.stopAll(stderr)
	meta := collectMeta(r)
	fmt.Fprintf(stderr, "harness: results go to %s\n", r.out)

	var cells []cell
	failed := false
	for _, s := range o.scenarios {
		cs, err := r.runScenario(ctx, s)
		cells = append(cells, cs...)
		if err != nil {
			fmt.Fprintf(stderr, "harness: %s: %v\n", s.name, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	meta.Finished = time.Now().UTC().Format(time.RFC3339)
	table, err := writeSummary(r.out, meta, cells)
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprint(stdout, table)
	fmt.Fprintf(stderr, "harness: wrote %s\n", filepath.Join(r.out, "summary.md"))
	for _, c := range cells {
		for _, p := range c.Passes {
			failed = failed || p.Error != "" || (p.Drill != nil && !p.Drill.Pass)
		}
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

// prepare finds the targets, builds or finds the binaries, and makes the
// results and work folders.
func (r *runner) prepare(ctx context.Context) error {
	root, err := proc.ModuleRoot("./loadtest/harness")
	if err != nil {
		return err
	}
	binDir := r.o.binDir
	if binDir == "" {
		if binDir, err = os.MkdirTemp("", "ferrum-bench-bin-"); err != nil {
			return err
		}
		r.tempBin = binDir
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return err
	}
	if !r.o.skipBuild {
		fmt.Fprintf(r.stderr, "harness: building ferrum, the backend and the httputil reference into %s\n", binDir)
		if err := buildBinaries(ctx, root, binDir, r.stderr); err != nil {
			return err
		}
	}
	ferrumBin := filepath.Join(binDir, "ferrum")
	r.backendBin = filepath.Join(binDir, "backend")
	for _, bin := range []string{ferrumBin, r.backendBin} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("--bin-dir %s: %w (run once without --skip-build)", binDir, err)
		}
	}
	r.targets = []target{{name: targetFerrum, bin: ferrumBin, version: programVersion(ferrumBin, "-version")}}
	for _, name := range r.o.compare {
		t, line, ok := findTarget(name, binDir)
		if !ok {
			fmt.Fprintln(r.stderr, line)
			continue
		}
		r.targets = append(r.targets, t)
	}
	if r.workDir, err = os.MkdirTemp("", "ferrum-bench-run-"); err != nil {
		return err
	}
	// nginx's workers drop root privileges and must still reach their
	// temp directories in here.
	if err := os.Chmod(r.workDir, 0o755); err != nil {
		return err
	}
	// Absolute, because nginx reads a relative config path from its prefix.
	r.out = absPath(filepath.Join(r.o.resultsDir, time.Now().UTC().Format("20060102-150405")))
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	passes := 0
	for _, s := range r.o.scenarios {
		if s.drill != "" {
			passes += r.o.rounds // one drill a round, whatever the targets
		} else {
			passes += r.o.rounds * len(r.targets)
		}
	}
	r.progress = newProgress(r.stderr, passes, r.o.warmup+r.o.duration+3*time.Second)
	return nil
}

// runScenario starts the scenario's backends, writes each target's config,
// runs every round, and stops the backends. It returns one cell per target,
// in target order.
func (r *runner) runScenario(ctx context.Context, s scenario) (cells []cell, err error) {
	st := &stage{
		s: s, dir: filepath.Join(r.out, s.name),
		backendPorts: map[int]bool{}, layouts: map[string]layout{}, configs: map[string]string{},
	}
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return nil, err
	}
	if why := drillMissing(s); why != "" {
		fmt.Fprintf(r.stderr, "harness: %s: skipped: %s\n", s.name, why)
		r.progress.skip(r.o.rounds)
		return []cell{{Scenario: s.name, Target: s.drill.target(), Drill: true, Skipped: why}}, nil
	}
	blog, err := os.Create(filepath.Join(st.dir, "backends.log"))
	if err != nil {
		return nil, err
	}
	defer blog.Close()
	for _, spec := range s.backends {
		b, err := startBackend(r.backendBin, spec, blog)
		if err != nil {
			return nil, err
		}
		r.procs.add(b.Process)
		defer func() {
			if stopErr := r.procs.stop(b.Process); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}()
		st.backends = append(st.backends, b.addr)
		st.backendPids = append(st.backendPids, b.Pid())
		st.backendPorts[addrPort(b.addr)] = true
	}
	if s.drill != "" {
		return r.runDrill(ctx, st)
	}
	if s.hasScript() {
		st.script = filepath.Join(st.dir, "wrk.lua")
		if err := os.WriteFile(st.script, []byte(s.luaScript()), 0o644); err != nil {
			return nil, err
		}
	}
	for _, t := range r.targets {
		if !t.proxied() {
			continue
		}
		listen, err := freePort()
		if err != nil {
			return nil, err
		}
		l := layout{
			listen: listen, backends: st.backends,
			runDir:  filepath.Join(r.workDir, s.name+"-"+t.name),
			confDir: st.dir, errorLog: filepath.Join(st.dir, "nginx.error.log"),
		}
		st.layouts[t.name] = l
		if st.configs[t.name], err = writeFiles(st.dir, t.configs(s, l)); err != nil {
			return nil, err
		}
	}

	cells = make([]cell, len(r.targets))
	order := make([]int, len(r.targets))
	for i, t := range r.targets {
		cells[i] = cell{Scenario: s.name, Target: t.name}
		order[i] = i
	}
	for round := range r.o.rounds {
		for _, i := range roundOrder(order, round) {
			if ctx.Err() != nil {
				return cells, ctx.Err()
			}
			res := r.runPass(ctx, st, r.targets[i], round)
			r.progress.passDone()
			if res.Error != "" {
				fmt.Fprintf(r.stderr, "harness: %s, %s, round %d: %s\n", s.name, r.targets[i].name, round+1, res.Error)
			}
			if res.StealFlagged {
				fmt.Fprintf(r.stderr, "harness: %s, %s, round %d: the host stole %.1f%% of the CPU; treat this pass with care\n",
					s.name, r.targets[i].name, round+1, res.StealPercent)
			}
			if res.OtherFlagged {
				fmt.Fprintf(r.stderr, "harness: %s, %s, round %d: %.1f%% of the CPU went to other programs; treat this pass with care\n",
					s.name, r.targets[i].name, round+1, res.OtherPercent)
			}
			cells[i].Passes = append(cells[i].Passes, res)
		}
	}
	return cells, nil
}

// addrPort is the port of "127.0.0.1:8080", or -1.
func addrPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	return n
}

// absPath is filepath.Abs, falling back to p itself.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
