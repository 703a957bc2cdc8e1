//go:build linux

// Command torture runs ferrum through the faults a proxy meets in
// production and prints a verdict per experiment: a storm of reloads (some
// of broken files), a backend killed with -9 and restarted, a backend slower
// than read_timeout, thousands of idle clients, a trickled request body,
// running out of file descriptors, a drain under load, and upstream
// connections the backend closed while idle.
//
//	go run ./loadtest/torture                 # every experiment, about a minute
//	go run ./loadtest/torture -quick          # shorter phases, for CI-like runs
//	go run ./loadtest/torture -only reload_storm,drain_under_load
//	go run ./loadtest/torture -wrk /usr/bin/wrk
//
// It builds ferrum and the backend program from the module root into a
// temporary directory once, then runs each experiment against the built
// binary with its own config and backends on 127.0.0.1, bounded in time.
// Each experiment prints one line (PASS, FAIL or SKIP and its key numbers)
// on stdout as it ends; a Markdown table of them all follows; progress goes
// to stderr. Every experiment has a hard time bound (6.5 minutes for all of
// them together at worst, 4.5 with -quick). The exit code is 1 if
// any experiment failed, 2 if the command could not run at all.
//
// Every process it starts runs in a process group of its own and is killed
// when its experiment ends, on Ctrl-C, and (through Pdeathsig) if the
// command itself dies. Linux only: it reads /proc.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"ferrum/loadtest/cli"
	"ferrum/loadtest/proc"
)

func main() {
	if v := os.Getenv(nofileEnv); v != "" {
		// This process is the low-file-limit wrapper of fd_exhaustion:
		// it never returns.
		execWithNofile(v, os.Args[1:])
	}
	cli.Main(runMain)
}

// options is the parsed command line.
type options struct {
	only  []string
	quick bool
	wrk   string
	keep  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o    options
		only string
	)
	head := "usage: go run ./loadtest/torture [flags]\n\nexperiments:\n"
	for _, x := range experiments() {
		head += fmt.Sprintf("  %-20s %s\n", x.name, x.about)
	}
	fs := cli.NewFlagSet("torture", head+"\nflags:\n", stderr)
	fs.StringVar(&only, "only", "", "run only these experiments, comma-separated `NAME,NAME` (default: all)")
	fs.BoolVar(&o.quick, "quick", false, "shorter phases, for CI-like runs (under ~2 minutes in all)")
	fs.StringVar(&o.wrk, "wrk", "", "drive the plain GET load with wrk at `PATH` instead of the built-in generator")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs and logs of every process) and print its path")
	if err := cli.Parse(fs, args); err != nil {
		return options{}, err
	}
	known := map[string]bool{}
	for _, x := range experiments() {
		known[x.name] = true
	}
	for name := range strings.SplitSeq(only, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !known[name] {
			return options{}, fmt.Errorf("-only %s: no such experiment (see -h)", name)
		}
		if !slices.Contains(o.only, name) {
			o.only = append(o.only, name)
		}
	}
	if o.wrk != "" {
		p, err := exec.LookPath(o.wrk)
		if err != nil {
			return options{}, fmt.Errorf("-wrk %s: %w", o.wrk, err)
		}
		o.wrk = p
	}
	return o, nil
}

// runMain runs the selected experiments and returns the exit code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return cli.UsageExit("torture", err, stderr)
	}
	if soft, hard, err := raiseNofile(); err != nil {
		fmt.Fprintf(stderr, "torture: raise the file limit: %v (now %d, hard %d)\n", err, soft, hard)
	}
	root, err := proc.ModuleRoot("./loadtest/torture")
	if err != nil {
		fmt.Fprintln(stderr, "torture:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "ferrum-torture-")
	if err != nil {
		fmt.Fprintln(stderr, "torture:", err)
		return 2
	}
	if o.keep {
		fmt.Fprintln(stderr, "torture: work directory", work)
	} else {
		defer os.RemoveAll(work)
	}
	fmt.Fprintln(stderr, "torture: building ferrum and the backend in", work)
	ferrumBin, backendBin, err := buildBinaries(ctx, root, work)
	if err != nil {
		fmt.Fprintln(stderr, "torture:", err)
		return 2
	}
	e := &env{ferrumBin: ferrumBin, backendBin: backendBin, work: work, quick: o.quick, wrkBin: o.wrk, progress: stderr}
	if p, err := exec.LookPath("prlimit"); err == nil {
		e.prlimitBin = p
	}
	var vs []verdict
	start := time.Now()
	for _, x := range experiments() {
		if len(o.only) > 0 && !slices.Contains(o.only, x.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "torture: %s: %s\n", x.name, x.about)
		v := runExperiment(ctx, e, x)
		fmt.Fprintln(stdout, v.line())
		vs = append(vs, v)
	}
	fmt.Fprintf(stdout, "\n## ferrum torture (%s mode, %.0fs)\n\n", map[bool]string{true: "quick", false: "default"}[o.quick], time.Since(start).Seconds())
	writeTable(stdout, vs)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "torture: interrupted")
		return 1
	}
	if anyFailed(vs) {
		return 1
	}
	return 0
}

// experiments is every experiment, in the order they run.
func experiments() []experiment {
	return []experiment{
		{name: "reload_storm", about: "100 SIGHUPs under load, 1 in 10 with a broken file",
			bound: 90 * time.Second, quickBound: 45 * time.Second, run: reloadStorm},
		{name: "backend_kill", about: "kill -9 one of two backends under load, restart it",
			bound: 60 * time.Second, quickBound: 40 * time.Second, run: backendKill},
		{name: "slow_backend", about: "a backend slower than upstream.read_timeout",
			bound: 30 * time.Second, quickBound: 20 * time.Second, run: slowBackend},
		{name: "idle_connections", about: "2,000 idle client connections against idle/header timeouts",
			bound: 40 * time.Second, quickBound: 30 * time.Second, run: idleConnections},
		{name: "trickled_body", about: "a 100,000-byte POST body sent at 1 byte a second",
			bound: 30 * time.Second, quickBound: 25 * time.Second, run: trickledBody},
		{name: "fd_exhaustion", about: "300 connections against a ferrum limited to 128 file descriptors",
			bound: 60 * time.Second, quickBound: 35 * time.Second, run: fdExhaustion},
		{name: "drain_under_load", about: "SIGTERM with shutdown_delay under keep-alive load",
			bound: 40 * time.Second, quickBound: 30 * time.Second, run: drainUnderLoad},
		{name: "upstream_close_wait", about: "a backend closes ferrum's idle upstream connections",
			bound: 40 * time.Second, quickBound: 30 * time.Second, run: upstreamCloseWait},
	}
}
