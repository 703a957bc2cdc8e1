package main

import (
	"fmt"
	"strings"
)

// layout is where one proxy of one scenario runs: what a config generator
// needs besides the scenario.
type layout struct {
	// listen is the "127.0.0.1:PORT" the proxy serves clients on.
	listen string
	// backends are the "127.0.0.1:PORT" addresses of the scenario's
	// backends, in the scenario's order.
	backends []string
	// runDir is a directory of this proxy's own for pid and temp files.
	runDir string
	// confDir is where the config and its side files (HAProxy's route map)
	// are written, and errorLog the file nginx logs to.
	confDir, errorLog string
}

// genFile is one file a config generator wants written into confDir.
type genFile struct {
	name, text string
}

// Shared settings, chosen so the three proxies work under the same rules.
const (
	// attempts is every proxy's attempts per request, the first included.
	attempts = 2
	// upstreamIdle is the idle upstream connections kept per backend.
	upstreamIdle = 128
	// clientIdle is how long an idle client connection is kept open.
	clientIdle = "90s"
	// healthEvery is the active probe interval (nginx has none).
	healthEvery = "10s"
)

// ferrumConfig writes ferrum.toml for s. The retry backoff is the smallest
// ferrum accepts, because nginx and HAProxy retry at once.
func ferrumConfig(s scenario, l layout) []genFile {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferrum for the load-test scenario %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md.\n\n")
	fmt.Fprintf(&b, "[server]\nlisten = %q\nidle_timeout = %q\ngraceful_shutdown_timeout = \"5s\"\n\n", l.listen, clientIdle)
	fmt.Fprintf(&b, "[upstream]\nmax_idle_conns_per_backend = %d\n\n", upstreamIdle)
	fmt.Fprintf(&b, "[health]\ninterval = %q\n", healthEvery)
	if s.retrying {
		b.WriteString("max_ejected_percent = 0             # no passive ejection: every other request pays a retry\n")
	}
	fmt.Fprintf(&b, "\n[retry]\nmax_attempts = %d\nbackoff = \"1ms\"\nretry_on_status = [502, 503, 504]\n", attempts)
	if s.retrying {
		// nginx and HAProxy have no retry budget. budget_percent alone does
		// not lift ferrum's: it is a share of the requests on their first
		// attempt, and here most requests in flight are on their retry.
		b.WriteString("budget_percent = 100                # nginx and HAProxy have no retry budget\n")
		b.WriteString("min_retry_concurrency = 65536       # ... so none here either\n")
	}
	b.WriteString("\n[log]\nlevel = \"warn\"\n")
	urls := make([]string, len(l.backends))
	for i, a := range l.backends {
		urls[i] = fmt.Sprintf("%q", "http://"+a)
	}
	list := "[" + strings.Join(urls, ", ") + "]"
	for i := range s.routes {
		fmt.Fprintf(&b, "\n[[route]]\npath_prefix = %q\nbackends = %s\nbalancing = \"round_robin\"\n", s.routePrefix(i), list)
	}
	return []genFile{{name: "ferrum.toml", text: b.String()}}
}
