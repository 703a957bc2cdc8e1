// Command scale measures what ferrum costs as its route count grows: N
// routes over the same 4 backends, for N = 10, 100, 1,000 and 10,000 by
// default. For each N it starts a fresh ferrum and reports the time from
// start to serving, RSS, goroutines, idle CPU, the health probes each
// backend receives per interval (counted at the backends), and the time
// from a SIGHUP adding one route to that route being served; with
// -compare, nginx's and HAProxy's memory and start-up for the same routes.
// It ends with the budget of issue 11 judged on the largest N.
//
//	go run ./loadtest/scale -routes 10,100,1000 -compare nginx,haproxy -json scale.json
//
// It needs Linux (/proc) and Go, and listens on loopback only. The exit
// code is 0 when every measurement ran, whatever the budget's verdict.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"ferrum/loadtest/cli"
	"ferrum/loadtest/proc"
)

func main() { cli.Main(run) }

// run is the whole tool; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return cli.UsageExit("scale", err, stderr)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "scale: "+format+"\n", args...) }
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	started := time.Now()

	dir, err := os.MkdirTemp("", "ferrum-scale-")
	if err == nil {
		defer os.RemoveAll(dir)
		// nginx's workers drop root's privileges and must reach runDirs.
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		logf("%v", err)
		return 1
	}
	root, err := proc.ModuleRoot("./loadtest/scale")
	if err != nil {
		logf("%v", err)
		return 1
	}
	e := &env{o: o, dir: dir, log: logf}
	if o.ferrumBin != "" {
		if e.ferrum, err = filepath.Abs(o.ferrumBin); err != nil {
			logf("-ferrum: %v", err)
			return 1
		}
	} else {
		e.ferrum = filepath.Join(dir, proc.Ferrum.Name)
		logf("building ferrum into %s", dir)
		if err := proc.Build(ctx, root, dir, nil, stderr, proc.Ferrum); err != nil {
			logf("%v", err)
			return 1
		}
	}
	if e.backends, err = startBackends(backendCount); err != nil {
		logf("%v", err)
		return 1
	}
	defer func() {
		if err := e.backends.close(); err != nil {
			logf("%v", err)
		}
	}()
	rivals := findRivals(o.compare, logf)

	var rows []row
	failed := false
	for _, n := range o.routes {
		if ctx.Err() != nil {
			break
		}
		r, ok := e.measureCount(ctx, n, rivals)
		failed = failed || !ok
		for _, w := range r.Warnings {
			logf("%d routes: warning: %s", n, w)
		}
		rows = append(rows, r)
		if failed && !o.keepGoing {
			break
		}
	}
	if ctx.Err() != nil {
		failed = true
		logf("%v", interruption(ctx, o.timeout))
	}

	rev := commit(root)
	what := "ferrum " + rev
	if o.ferrumBin != "" {
		what = fmt.Sprintf("ferrum binary %s (repository at %s)", o.ferrumBin, rev)
	}
	fmt.Fprintf(stdout, "%s, %d backends, health interval %v, idle window %v, probes over %d intervals, %d CPUs\n\n",
		what, backendCount, o.interval, o.idleWindow, o.probeIntervals, runtime.NumCPU())
	fmt.Fprint(stdout, formatTable(rows))
	fmt.Fprint(stdout, formatWarnings(rows))
	if len(rivals) > 0 {
		fmt.Fprintln(stdout, "\nnginx and HAProxy: RSS summed over their processes one health interval after serving; in parentheses, start to serving.")
	}
	rep := report{Meta: meta{
		Started: started.UTC().Format(time.RFC3339), Finished: time.Now().UTC().Format(time.RFC3339),
		Commit: rev, FerrumBinary: o.ferrumBin, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Backends: backendCount, IntervalSeconds: o.interval.Seconds(), IdleWindow: o.idleWindow.Seconds(),
		ProbeIntervals: o.probeIntervals,
	}, Results: rows}
	for _, rv := range rivals {
		rep.Meta.Compared = append(rep.Meta.Compared, rv.version)
	}
	if vr := verdictRow(rows); vr != nil {
		rep.VerdictRoutes, rep.Verdict = vr.Routes, judge(*vr, issue11)
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, formatVerdict(vr.Routes, issue11, rep.Verdict))
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			logf("%v", err)
			return 1
		}
		logf("wrote %s", o.jsonPath)
	}
	if failed {
		return 1
	}
	return 0
}

// measureCount measures ferrum, then each rival, with n routes. It
// reports false when any of them failed.
func (e *env) measureCount(ctx context.Context, n int, rivals []rival) (row, bool) {
	r := row{Routes: n}
	ok := true
	e.log("%d routes: starting ferrum", n)
	done := e.watchBackends("ferrum", &r)
	err := e.measureFerrum(ctx, n, &r)
	done()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", interruption(ctx, e.o.timeout), err)
		}
		r.Error, ok = err.Error(), false
		e.log("%d routes: ferrum: %v", n, err)
	}
	for _, rv := range rivals {
		if ctx.Err() != nil {
			break
		}
		e.log("%d routes: starting %s", n, rv.name)
		done := e.watchBackends(rv.name, &r)
		res := e.measureRival(ctx, rv, n)
		done()
		ok = ok && res.Error == ""
		if rv.name == rivalNginx {
			r.Nginx = res
		} else {
			r.HAProxy = res
		}
	}
	return r, ok
}

// watchBackends notes how many errors the backends' servers have logged;
// the function it returns adds a warning to r, naming proxy, when there
// are more by then.
func (e *env) watchBackends(proxy string, r *row) func() {
	before := e.backends.errors.count.Load()
	return func() {
		if n := e.backends.errors.count.Load() - before; n > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("while %s ran, the tool's own backends logged %d errors (the first: %q), so it did not meet 4 healthy backends",
				proxy, n, e.backends.errors.firstLine()))
		}
	}
}

// commit names the checked-out commit of the repository at root, with
// "-dirty" when tracked files differ from it; "unknown" without git.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
