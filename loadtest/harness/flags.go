package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// options is the parsed command line.
type options struct {
	scenarios   []scenario
	warmup      time.Duration
	duration    time.Duration
	threads     int
	connections int
	rounds      int
	skipBuild   bool
	binDir      string
	wrkBin      string
	resultsDir  string
	compare     []string
	gogc        string
}

// usageHead opens the -h text.
const usageHead = `usage: go run ./loadtest/harness [flags]   (or: just bench [flags])

Runs wrk against ferrum, and with --compare against nginx, HAProxy, the
plain Go reference (httputil) and the backend itself, scenario by scenario,
and writes the reports, configs and a summary into
--results-dir/<UTC YYYYMMDD-HHMMSS>/. See docs/benchmarking.md.

`

// parseFlags reads args. Errors and usage go to stderr through the flag
// package; a returned error is also for the caller to report.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o                 options
		scenarios, compar string
	)
	names := make([]string, len(allScenarios))
	for i, s := range allScenarios {
		names[i] = s.name
	}
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&scenarios, "scenarios", "all", "comma-separated `list` of scenarios: all, or any of "+strings.Join(names, ", "))
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "warm-up pass before each measured pass (0 skips it)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured pass")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads")
	fs.IntVar(&o.connections, "connections", 64, "wrk connections, spread over the threads")
	fs.IntVar(&o.rounds, "rounds", 1, "measured passes per scenario and target; targets alternate A B, B A across rounds and medians are reported")
	fs.BoolVar(&o.skipBuild, "skip-build", false, "use the ferrum, backend and refproxy binaries already in --bin-dir")
	fs.StringVar(&o.binDir, "bin-dir", "", "`directory` for the ferrum, backend and refproxy binaries (default: a temporary one)")
	fs.StringVar(&o.wrkBin, "wrk-bin", "wrk", "wrk `program`")
	fs.StringVar(&o.resultsDir, "results-dir", "benchmark-results", "`directory` that gets one folder per run")
	fs.StringVar(&compar, "compare", "", "comma-separated `list` of targets to run beside ferrum: "+strings.Join(compareTargets, ", "))
	fs.StringVar(&o.gogc, "gogc", "400", "GOGC for ferrum (empty: inherit the harness's environment)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	var err error
	if o.scenarios, err = pickScenarios(scenarios); err != nil {
		errs = append(errs, err)
	}
	if o.compare, err = pickTargets(compar); err != nil {
		errs = append(errs, err)
	}
	switch {
	case o.duration < time.Second:
		errs = append(errs, fmt.Errorf("--duration %v: want at least 1s", o.duration))
	case o.duration%time.Second != 0 || o.warmup%time.Second != 0:
		errs = append(errs, errors.New("--duration and --warmup: want whole seconds, as wrk takes them"))
	}
	if o.warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup %v: want >= 0", o.warmup))
	}
	if o.threads < 1 || o.connections < o.threads {
		errs = append(errs, fmt.Errorf("--threads %d --connections %d: want threads >= 1 and connections >= threads", o.threads, o.connections))
	}
	if o.rounds < 1 {
		errs = append(errs, fmt.Errorf("--rounds %d: want >= 1", o.rounds))
	}
	if o.skipBuild && o.binDir == "" {
		errs = append(errs, errors.New("--skip-build needs --bin-dir, the directory holding ferrum, backend and refproxy"))
	}
	return o, errors.Join(errs...)
}

// pickScenarios resolves --scenarios into scenarios in their usual order.
func pickScenarios(list string) ([]scenario, error) {
	if strings.TrimSpace(list) == "all" {
		return allScenarios, nil
	}
	want := splitList(list)
	if len(want) == 0 {
		return nil, errors.New("--scenarios: empty; give all or a list of names")
	}
	var picked []scenario
	for _, name := range want {
		if _, ok := scenarioByName(name); !ok {
			return nil, fmt.Errorf("--scenarios: unknown scenario %q", name)
		}
	}
	for _, s := range allScenarios {
		if slices.Contains(want, s.name) {
			picked = append(picked, s)
		}
	}
	return picked, nil
}

// pickTargets checks --compare and returns its targets in the usual order
// (nginx, haproxy, httputil, direct), each once.
func pickTargets(list string) ([]string, error) {
	want := splitList(list)
	for _, name := range want {
		if !slices.Contains(compareTargets, name) {
			return nil, fmt.Errorf("--compare: unknown target %q; want any of %s", name, strings.Join(compareTargets, ", "))
		}
	}
	var picked []string
	for _, name := range compareTargets {
		if slices.Contains(want, name) {
			picked = append(picked, name)
		}
	}
	return picked, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
