//go:build linux

package main

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// File descriptor exhaustion settings.
const (
	fdLimit   = 128
	fdClients = 300
	// fdMaxWarns is the most WARN lines the shortage may cause: a
	// rate-limited warning, not one per request.
	fdMaxWarns = 100
	// fdRecover bounds how soon after the load a normal request must
	// succeed.
	fdRecover = 10 * time.Second
)

// shortageWords recognise a log line about ferrum's own resource
// shortage, whatever its event name.
var shortageWords = regexp.MustCompile(`(?i)too many open files|file descriptor|local_resources|emfile|enfile|ephemeral port|cannot assign requested address|no buffer space`)

// fdMeasure is what fd_exhaustion saw.
type fdMeasure struct {
	// limit is ferrum's "Max open files" as /proc showed it.
	limit string
	load  tally
	alive bool
	exit  string
	// localErrors is ferrum_proxy_errors_total{kind="local_resources"}.
	localErrors float64
	// outTransitions are health transitions to ejected or unhealthy, in
	// the metrics and in the log; outNow lists backends out at the end.
	outTransitions float64
	outLogged      []string
	outNow         []string
	healthRead     bool
	// warns are WARN lines during and after the load, shortageWarns those
	// about the shortage, logLines all lines then.
	warns, shortageWarns, logLines int
	// recovered is whether a normal request got 200 within fdRecover of
	// the load's end.
	recovered bool
	scraped   bool
}

func judgeFd(m fdMeasure) verdict {
	j := newJudge("fd_exhaustion")
	j.note("nofile", m.limit)
	j.note("requests", m.load.requests)
	j.note("client_failures", m.load.failures())
	j.note("local_resources", m.localErrors)
	j.note("to_out", m.outTransitions)
	j.note("warn_lines", m.warns)
	j.note("shortage_warns", m.shortageWarns)
	j.note("log_lines", m.logLines)
	j.need(m.alive, "ferrum died: %s", m.exit)
	j.need(m.healthRead, "could not read /health/backends after the load")
	j.need(len(m.outNow) == 0, "backends out of rotation at the end: %s", firstFew(m.outNow))
	j.need(m.outTransitions == 0 && len(m.outLogged) == 0, "healthy backends were taken out: %s", firstFew(m.outLogged))
	j.need(m.scraped, "could not read /metrics after the load")
	j.need(m.localErrors > 0, "no ferrum_proxy_errors_total{kind=\"local_resources\"}")
	j.need(m.shortageWarns > 0, "no WARN line names the shortage")
	j.need(m.warns < fdMaxWarns, "%d WARN lines, want fewer than %d (rate-limited)", m.warns, fdMaxWarns)
	j.need(m.recovered, "no normal request succeeded within %v of the load's end", fdRecover)
	return j.verdict()
}

// nofileLimit reads "Max open files" from /proc/<pid>/limits as
// "soft/hard", or "?".
func nofileLimit(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return "?"
	}
	return parseNofileLimit(string(b))
}

func parseNofileLimit(text string) string {
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) >= 2 {
				return f[0] + "/" + f[1]
			}
		}
	}
	return "?"
}

func fdExhaustion(r *run) verdict {
	w, err := r.lowNofile(fdLimit)
	if err != nil {
		return skipped("fd_exhaustion", err.Error())
	}
	var urls []string
	for _, name := range []string{"fd1", "fd2"} {
		b, err := r.localBackend(name, nil, nil)
		if err != nil {
			return failed("fd_exhaustion", err)
		}
		urls = append(urls, b.url)
	}
	c := baseConf(fmt.Sprintf("fd_exhaustion: %d clients against %d file descriptors", fdClients, fdLimit))
	c.health = []kv{{"interval", "1s"}, {"timeout", "500ms"}}
	c.routes = []routeConf{{prefix: "/k", backends: urls}}
	f, err := r.startFerrum(c, w)
	if err != nil {
		return failed("fd_exhaustion", err)
	}
	m := fdMeasure{limit: nofileLimit(f.Pid())}
	mark := f.log.count()
	var load loader
	if r.wrkBin != "" {
		load, err = r.startWrk(f.base+"/k/x", fdClients)
		if err != nil {
			return failed("fd_exhaustion", err)
		}
	} else {
		load = startLoad(r.ctx, loadOpts{url: f.base + "/k/x", conns: fdClients, timeout: 2 * time.Second})
	}
	d := r.dur(10*time.Second, 6*time.Second)
	r.logf("%d clients for %v against nofile %s", fdClients, d, m.limit)
	sleep(r.ctx, d)
	m.load = load.stop()

	m.recovered = pollFor(r.ctx, fdRecover, 200*time.Millisecond, func() bool {
		code, _, err := getText(r.ctx, f.base+"/k/x")
		return err == nil && code == http.StatusOK
	})
	if mm, err := scrape(r.ctx, f.base); err == nil {
		m.scraped = true
		m.localErrors = mm.sum("ferrum_proxy_errors_total", "kind", "local_resources")
		m.outTransitions = mm.sum("ferrum_proxy_health_transitions_total", "to", "ejected") +
			mm.sum("ferrum_proxy_health_transitions_total", "to", "unhealthy")
	}
	if h, err := backendsHealth(r.ctx, f.base); err == nil {
		m.healthRead, m.outNow = true, h.unhealthy()
	}
	for _, l := range f.log.find(0, func(l logLine) bool {
		return isEvent(l, "health_transition") && (l.attrs["to"] == "ejected" || l.attrs["to"] == "unhealthy")
	}) {
		m.outLogged = append(m.outLogged, fmt.Sprintf("%s to %s (%s)", l.attrs["backend"], l.attrs["to"], l.attrs["reason"]))
	}
	warns := f.log.find(mark, func(l logLine) bool { return l.attrs != nil && l.attrs["level"] == "WARN" })
	m.warns = len(warns)
	for _, l := range warns {
		if shortageWords.MatchString(l.text) {
			m.shortageWarns++
		}
	}
	m.logLines = f.log.count() - mark
	m.alive = f.Alive()
	m.exit = f.Status()
	return judgeFd(m)
}
