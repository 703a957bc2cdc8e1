package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"ferrum/loadtest/cli"
)

// options is the parsed command line.
type options struct {
	routes         []int
	interval       time.Duration
	idleWindow     time.Duration
	probeIntervals int
	compare        []string
	jsonPath       string
	keepGoing      bool
	timeout        time.Duration
	ferrumBin      string
}

const usageHead = `usage: go run ./loadtest/scale [flags]

For each route count N, starts ferrum with N routes /r0 ... over the same 4
fake backends and reports start to serving, RSS, goroutines, idle CPU,
health probes per backend per interval, and SIGHUP add-route to served;
then judges the largest N against the budget of issue 11. The table goes to
stdout, progress to stderr. See docs/benchmarking.md.

`

// parseFlags reads args. Errors and usage go to stderr through the flag
// package; a returned error is also for the caller to report.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o               options
		routes, compare string
	)
	fs := cli.NewFlagSet("scale", usageHead, stderr)
	fs.StringVar(&routes, "routes", "10,100,1000,10000", "comma-separated route `counts`, measured in this order")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "health probe interval written into every config")
	fs.DurationVar(&o.idleWindow, "idle-window", 10*time.Second, "window over which idle CPU is measured, with no traffic")
	fs.IntVar(&o.probeIntervals, "probe-intervals", 3, "health intervals over which the backends count probes")
	fs.StringVar(&compare, "compare", "", "comma-separated `proxies` to measure beside ferrum: nginx, haproxy")
	fs.StringVar(&o.jsonPath, "json", "", "write the raw numbers to this `file`")
	fs.BoolVar(&o.keepGoing, "keep-going", false, "after a route count fails, go on with the next one")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run; what is running then is stopped")
	fs.StringVar(&o.ferrumBin, "ferrum", "", "measure this ferrum `binary` instead of building one from the module")
	if err := cli.Parse(fs, args); err != nil {
		return options{}, err
	}
	var errs []error
	var err error
	if o.routes, err = parseRoutes(routes); err != nil {
		errs = append(errs, err)
	}
	if o.compare, err = parseCompare(compare); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-interval", o.interval}, {"-idle-window", o.idleWindow}, {"-timeout", o.timeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", d.name, d.v))
		}
	}
	if o.interval > 0 && o.interval < time.Millisecond {
		errs = append(errs, fmt.Errorf("-interval %v: want at least 1ms", o.interval))
	}
	if o.probeIntervals < 1 {
		errs = append(errs, fmt.Errorf("-probe-intervals %d: want >= 1", o.probeIntervals))
	}
	return o, errors.Join(errs...)
}

// parseRoutes reads "10,100,1000" into route counts, each at least 1.
func parseRoutes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-routes: %q: want a whole number >= 1", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseCompare reads "nginx,haproxy" and checks each name.
func parseCompare(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f != rivalNginx && f != rivalHAProxy {
			return nil, fmt.Errorf("-compare: %q: want nginx or haproxy", f)
		}
		out = append(out, f)
	}
	return out, nil
}
