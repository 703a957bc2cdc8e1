package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"ferrum/loadtest/cli"
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
	// shutdownDelay, when shutdownDelaySet, is ferrum's shutdown_delay in
	// the restart drills instead of each drill's own.
	shutdownDelay    time.Duration
	shutdownDelaySet bool
	// upgradeOrder is how socket_upgrade replaces ferrum: orderStopStart
	// or orderStartStop.
	upgradeOrder string
}

// drillDelay is the shutdown_delay a drill gives ferrum: --shutdown-delay
// when set, else def, the drill's own.
func (o options) drillDelay(def time.Duration) time.Duration {
	if o.shutdownDelaySet {
		return o.shutdownDelay
	}
	return def
}

// usageHead opens the -h text.
const usageHead = `usage: go run ./loadtest/harness [flags]   (or: just bench [flags])

Runs wrk against ferrum, and with --compare against nginx, HAProxy, the
plain Go reference (httputil), the least a Go proxy does (gofloor) and the
backend itself, scenario by scenario,
and writes the reports, configs and a summary into
--results-dir/<UTC YYYYMMDD-HHMMSS>/. See docs/benchmarking.md.

Scenarios: "all" is the benchmarks, healthy_get to many_routes_baseline. The two
restart drills run only when named, alone or beside them (--scenarios
all,rolling_restart). Each runs ferrum as an operator would and restarts it
under wrk:
  rolling_restart  HAProxy (mode tcp, GET /health every 250ms, out after 1
                   failure, back after 2 passes) over two ferrum instances
                   (shutdown_delay 2s); under wrk for 25s each instance is
                   sent SIGTERM, waited for, started again on its port and
                   waited for in HAProxy, in turn. Needs haproxy
                   (apt-get install haproxy); skipped without it.
  socket_upgrade   ferrum on a listening socket the harness holds and passes
                   as systemd does (fd 3, LISTEN_FDS=1, LISTEN_PID); under
                   wrk for 20s ferrum is replaced twice, by default as
                   systemctl restart does (--upgrade-order stop-start:
                   SIGTERM, wait for the exit, start the new one) with
                   shutdown_delay 1s, so busy keep-alive clients are told
                   Connection: close before the old process closes idle
                   connections (with 0s that close races their next
                   request).
A drill PASSes with 0 wrk socket errors, 0 non-2xx answers and exit code 0
from every drained ferrum; a FAIL makes the harness exit 1. Drills take
--threads, --connections, --rounds (one whole drill a round), --gogc and the
two drill flags; --duration, --warmup and --compare do not apply to them.
Each writes the wrk report, every process's log, the configs and a timeline
of what happened when (timeline.txt) into its folder.

`

// parseFlags reads args. Errors and usage go to stderr through the flag
// package; a returned error is also for the caller to report.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o                 options
		scenarios, compar string
	)
	var names []string
	for _, s := range slices.Concat(allScenarios, drillScenarios) {
		names = append(names, s.name)
	}
	fs := cli.NewFlagSet("harness", usageHead, stderr)
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
	fs.StringVar(&o.gogc, "gogc", "", "GOGC for ferrum (empty: inherit the harness's environment, Go's default unless set)")
	fs.Func("shutdown-delay", "restart drills: ferrum's server.shutdown_delay `duration` (default: 2s in rolling_restart, 1s in socket_upgrade)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("want a duration >= 0 such as 2s")
		}
		o.shutdownDelay, o.shutdownDelaySet = d, true
		return nil
	})
	fs.StringVar(&o.upgradeOrder, "upgrade-order", orderStopStart, "socket_upgrade: how ferrum is replaced: "+orderStopStart+" (SIGTERM the old, wait for its exit, start the new, as systemctl restart does) or "+orderStartStop+" (start the new, wait until it serves, then SIGTERM the old)")
	if err := cli.Parse(fs, args); err != nil {
		return options{}, err
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
	if !slices.Contains(upgradeOrders, o.upgradeOrder) {
		errs = append(errs, fmt.Errorf("--upgrade-order %q: want %s", o.upgradeOrder, strings.Join(upgradeOrders, " or ")))
	}
	if o.skipBuild && o.binDir == "" {
		errs = append(errs, errors.New("--skip-build needs --bin-dir, the directory holding ferrum, backend and refproxy"))
	}
	return o, errors.Join(errs...)
}

// pickScenarios resolves --scenarios into scenarios in their usual order:
// the benchmarks, then the restart drills. "all", alone or in the list,
// stands for every benchmark; drills run only when named.
func pickScenarios(list string) ([]scenario, error) {
	want := splitList(list)
	if len(want) == 0 {
		return nil, errors.New("--scenarios: empty; give all or a list of names")
	}
	var picked []scenario
	for _, name := range want {
		if _, ok := scenarioByName(name); !ok && name != "all" {
			return nil, fmt.Errorf("--scenarios: unknown scenario %q", name)
		}
	}
	all := slices.Contains(want, "all")
	for _, s := range allScenarios {
		if all || slices.Contains(want, s.name) {
			picked = append(picked, s)
		}
	}
	for _, s := range drillScenarios {
		if slices.Contains(want, s.name) {
			picked = append(picked, s)
		}
	}
	return picked, nil
}

// pickTargets checks --compare and returns its targets in the usual order
// (nginx, haproxy, httputil, gofloor, direct), each once.
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
