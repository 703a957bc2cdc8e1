//go:build linux

package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// checkVerdict fails t unless v has status want and, on a failure, a
// reason containing each of reasons.
func checkVerdict(t *testing.T, v verdict, want string, reasons ...string) {
	t.Helper()
	if v.status != want {
		t.Errorf("status = %s, want %s (reasons %q)", v.status, want, v.reasons)
	}
	all := strings.Join(v.reasons, "; ")
	for _, r := range reasons {
		if !strings.Contains(all, r) {
			t.Errorf("reasons %q lack %q", all, r)
		}
	}
	if want == pass && len(v.reasons) > 0 {
		t.Errorf("a pass with reasons %q", v.reasons)
	}
}

func TestJudgeReload(t *testing.T) {
	good := reloadMeasure{planned: 100, sent: 100, broken: 10, alive: true, success: 90, failure: 10, scraped: true,
		load: tally{requests: 1000, ok: 1000}}
	tests := []struct {
		name    string
		change  func(*reloadMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*reloadMeasure) {}, pass, nil},
		{"died", func(m *reloadMeasure) {
			m.alive, m.sent, m.diedAt, m.lastKind, m.exit, m.scraped = false, 20, 20, "control_char", "exit status 2", false
		}, fail, []string{"ferrum died after SIGHUP 20 (last file control_char): exit status 2", "sent 20 of 100"}},
		{"request errors", func(m *reloadMeasure) { m.load.non2xx, m.load.samples = 3, []string{"status 502"} }, fail, []string{"3 requests failed"}},
		{"failure miscounted", func(m *reloadMeasure) { m.failure, m.success = 9, 91 }, fail, []string{`failure"} grew by 9, want 10`, `success"} grew by 91, want 90`}},
		{"no traffic", func(m *reloadMeasure) { m.load = tally{} }, fail, []string{"no request completed"}},
		{"uncounted", func(m *reloadMeasure) { m.uncounted = 2 }, fail, []string{"2 SIGHUPs never showed"}},
		{"counters unreadable", func(m *reloadMeasure) { m.scraped = false }, fail, []string{"could not read the reload counters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeReload(m), tt.want, tt.reasons...)
		})
	}
}

func TestJudgeKill(t *testing.T) {
	good := killMeasure{load: tally{requests: 20000, ok: 20000}, alive: true, seenOut: true, outAfter: 100 * time.Millisecond,
		restarted: true, recovered: true, recoveredAfter: time.Second, down: 5 * time.Second}
	tests := []struct {
		name    string
		change  func(*killMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*killMeasure) {}, pass, nil},
		{"a few errors are within bound", func(m *killMeasure) { m.load.errors = 5 }, pass, nil},
		{"too many errors", func(m *killMeasure) { m.load.errors = 21 }, fail, []string{"21 client-visible failures, want at most 20"}},
		{"never seen out", func(m *killMeasure) { m.seenOut = false }, fail, []string{"never showed unhealthy or ejected"}},
		{"slow recovery", func(m *killMeasure) { m.recoveredAfter = killRecoveryBound + time.Second }, fail, []string{"not healthy and taking traffic"}},
		{"no recovery", func(m *killMeasure) { m.recovered = false }, fail, []string{"not healthy and taking traffic"}},
		{"no restart", func(m *killMeasure) { m.restarted, m.recovered = false, false }, fail, []string{"could not be restarted"}},
		{"died", func(m *killMeasure) { m.alive, m.exit = false, "signal: killed" }, fail, []string{"ferrum died: signal: killed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeKill(m), tt.want, tt.reasons...)
		})
	}
	for _, tt := range []struct{ requests, want int64 }{{0, 5}, {4999, 5}, {20000, 20}, {1000000, 1000}} {
		if got := killErrorBound(tt.requests); got != tt.want {
			t.Errorf("killErrorBound(%d) = %d, want %d", tt.requests, got, tt.want)
		}
	}
}

func TestJudgeSlow(t *testing.T) {
	good := func() slowMeasure {
		return slowMeasure{statuses: []int{504, 504}, took: []time.Duration{1010 * time.Millisecond, 1020 * time.Millisecond},
			fastStatus: 200, settled: true, alive: true}
	}
	tests := []struct {
		name    string
		change  func(*slowMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*slowMeasure) {}, pass, nil},
		{"a 502", func(m *slowMeasure) { m.statuses[1] = 502 }, fail, []string{"1 of 2 slow requests got 504"}},
		{"too late", func(m *slowMeasure) { m.took[0] = 2100 * time.Millisecond }, fail, []string{"slowest answer took 2.1s"}},
		{"waited for the backend", func(m *slowMeasure) { m.statuses, m.took = []int{200}, []time.Duration{5 * time.Second} }, fail, []string{"0 of 1", "5s"}},
		{"fast route broken", func(m *slowMeasure) { m.fastStatus = 503 }, fail, []string{"got 503, want 200"}},
		{"hanging", func(m *slowMeasure) { m.settled, m.ferrumInflight, m.backendInflight = false, 2, 2 }, fail, []string{"ferrum in flight 2, backend handlers running 2"}},
		{"nothing sent", func(m *slowMeasure) { m.statuses, m.took = nil, nil }, fail, []string{"no slow request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.change(&m)
			checkVerdict(t, judgeSlow(m), tt.want, tt.reasons...)
		})
	}
}

func TestIdleCount(t *testing.T) {
	t0 := time.Now()
	conns := []*idleConn{
		{opened: true, idleSince: t0, closedBy: t0.Add(2 * time.Second)},
		{opened: true, silent: true, idleSince: t0, closedBy: t0.Add(idleTimeout + idleMargin)},
		{opened: true, idleSince: t0, closedBy: t0.Add(idleTimeout + idleMargin + time.Millisecond)},
		{opened: true, idleSince: t0, err: "still open"},
		{err: "dial tcp: connection refused"},
	}
	var m idleMeasure
	m.count(conns)
	if m.opened != 4 || m.closedInTime != 2 || m.closedLate != 1 || m.neverClosed != 1 || len(m.dialErrors) != 1 {
		t.Errorf("count = %+v, want 4 opened: 2 in time, 1 late, 1 never; 1 dial error", m)
	}
	if want := idleTimeout + idleMargin + time.Millisecond; m.slowest != want {
		t.Errorf("slowest = %v, want %v", m.slowest, want)
	}
}

func TestJudgeIdle(t *testing.T) {
	good := idleMeasure{opened: idleConns, closedInTime: idleConns, midStatus: 200, fdBase: 12, fdPeak: 2012, fdAfter: 14, alive: true}
	tests := []struct {
		name    string
		change  func(*idleMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*idleMeasure) {}, pass, nil},
		{"some never closed", func(m *idleMeasure) { m.closedInTime, m.neverClosed = idleConns-5, 5 }, fail, []string{"0 closed late and 5 never"}},
		{"dial failures", func(m *idleMeasure) { m.opened, m.closedInTime = 1500, 1500 }, fail, []string{"opened 1500 of 2000"}},
		{"fd leak", func(m *idleMeasure) { m.fdAfter = 64 }, fail, []string{"holds 64 fds"}},
		{"fd slack", func(m *idleMeasure) { m.fdAfter = m.fdBase + idleFdSlack }, pass, nil},
		{"no service meanwhile", func(m *idleMeasure) { m.midStatus = 0 }, fail, []string{"got 0, want 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeIdle(m), tt.want, tt.reasons...)
		})
	}
}

func TestJudgeTrickle(t *testing.T) {
	good := trickleMeasure{answered: true, status: 408, after: 6 * time.Second, sent: 6, backendSaw: true, backendBytes: 5,
		backendClosed: true, alive: true}
	tests := []struct {
		name    string
		change  func(*trickleMeasure)
		want    string
		reasons []string
	}{
		{"408 in time", func(*trickleMeasure) {}, pass, nil},
		{"closed without an answer", func(m *trickleMeasure) { m.status = 0 }, pass, nil},
		{"backend never saw it", func(m *trickleMeasure) { m.backendSaw, m.backendClosed = false, false }, pass, nil},
		{"never answered", func(m *trickleMeasure) {
			m.answered, m.status, m.after, m.backendClosed = false, 0, 16*time.Second, false
		},
			fail, []string{"no 408 and no close 16s", "still open"}},
		{"too late", func(m *trickleMeasure) { m.after = trickleBound + time.Second }, fail, []string{"answered after 9s"}},
		{"wrong status", func(m *trickleMeasure) { m.status = 502 }, fail, []string{"answered 502"}},
		{"backend got it all", func(m *trickleMeasure) { m.backendComplete = true }, fail, []string{"complete request"}},
		{"backend left open", func(m *trickleMeasure) { m.backendClosed = false }, fail, []string{"still open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeTrickle(m), tt.want, tt.reasons...)
		})
	}
}

func TestJudgeFd(t *testing.T) {
	good := fdMeasure{limit: "128/128", load: tally{requests: 5000, ok: 4000, non2xx: 1000}, alive: true, localErrors: 1000,
		healthRead: true, warns: 12, shortageWarns: 10, logLines: 40, recovered: true, scraped: true}
	tests := []struct {
		name    string
		change  func(*fdMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*fdMeasure) {}, pass, nil},
		{"blamed the backends", func(m *fdMeasure) {
			m.outTransitions, m.outLogged, m.outNow = 1, []string{"b1 to ejected (passive_failure)"}, []string{"b1 ejected"}
		}, fail, []string{"healthy backends were taken out: b1 to ejected", "out of rotation at the end: b1 ejected"}},
		{"no local_resources kind", func(m *fdMeasure) { m.localErrors = 0 }, fail, []string{`kind="local_resources"`}},
		{"silent", func(m *fdMeasure) { m.warns, m.shortageWarns = 0, 0 }, fail, []string{"no WARN line names the shortage"}},
		{"flood", func(m *fdMeasure) { m.warns, m.shortageWarns = 5000, 5000 }, fail, []string{"5000 WARN lines"}},
		{"no recovery", func(m *fdMeasure) { m.recovered = false }, fail, []string{"no normal request succeeded"}},
		{"died", func(m *fdMeasure) { m.alive, m.exit = false, "exit status 2" }, fail, []string{"ferrum died: exit status 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeFd(m), tt.want, tt.reasons...)
		})
	}
}

func TestClassifyDrain(t *testing.T) {
	sig := time.Now()
	at := func(ms int) time.Time { return sig.Add(time.Duration(ms) * time.Millisecond) }
	results := []result{
		{start: at(-50), end: at(-10), status: 200},                     // before: ignored
		{start: at(-20), end: at(5), status: 200},                       // during, begun before the lag: not judged
		{start: at(200), end: at(210), status: 200, closing: true},      // judged, fine
		{start: at(300), end: at(310), status: 200},                     // judged, no close
		{start: at(400), end: at(410), status: 502},                     // failed
		{start: at(500), end: at(510), err: "connection reset by peer"}, // failed
	}
	got := classifyDrain(results, sig)
	if got.during != 5 || got.failed != 2 || got.judged != 2 || got.notClosing != 1 {
		t.Errorf("classifyDrain = %+v, want during 5, failed 2, judged 2, notClosing 1", got)
	}
	if len(got.samples) != 2 || got.samples[0] != http.StatusText(http.StatusBadGateway) || got.samples[1] != "connection reset by peer" {
		t.Errorf("samples = %q", got.samples)
	}
}

func TestJudgeDrain(t *testing.T) {
	good := drainMeasure{counts: drainCounts{during: 100, judged: 90}, healthDuring: 503, refused: true, slowStatus: 200, exited: true}
	tests := []struct {
		name    string
		change  func(*drainMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*drainMeasure) {}, pass, nil},
		{"kept alive", func(m *drainMeasure) { m.counts.notClosing = 90 }, fail, []string{"90 of 90 answers during the delay lacked Connection: close"}},
		{"failures", func(m *drainMeasure) { m.counts.failed = 3 }, fail, []string{"3 requests failed"}},
		{"exit 1", func(m *drainMeasure) { m.exitCode, m.exit = 1, "exit status 1" }, fail, []string{"did not exit 0: exit status 1"}},
		{"never exited", func(m *drainMeasure) { m.exited, m.exitCode, m.exit = false, -1, "still running" }, fail, []string{"still running"}},
		{"listener open", func(m *drainMeasure) { m.refused, m.accepted = false, 15 }, fail, []string{"15 accepted"}},
		{"in-flight cut", func(m *drainMeasure) { m.slowStatus = 0 }, fail, []string{"got 0, want 200"}},
		{"no traffic", func(m *drainMeasure) { m.counts = drainCounts{} }, fail, []string{"no request was served"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeDrain(m), tt.want, tt.reasons...)
		})
	}
}

func TestJudgeCloseWait(t *testing.T) {
	good := cwMeasure{burstOK: 200, pooled: 128, backendClosed: true, peak: 128, cleared: true, clearedAfter: 2 * time.Second, alive: true}
	tests := []struct {
		name    string
		change  func(*cwMeasure)
		want    string
		reasons []string
	}{
		{"all good", func(*cwMeasure) {}, pass, nil},
		{"lingering", func(m *cwMeasure) { m.cleared, m.left = false, 54 }, fail, []string{"54 sockets still in CLOSE_WAIT 5s"}},
		{"nothing pooled", func(m *cwMeasure) { m.pooled = 3 }, fail, []string{"left 3 upstream connections pooled"}},
		{"backend kept them", func(m *cwMeasure) { m.backendClosed = false }, fail, []string{"did not close"}},
		{"proc unreadable", func(m *cwMeasure) { m.procErr = "permission denied" }, fail, []string{"permission denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			checkVerdict(t, judgeCloseWait(m), tt.want, tt.reasons...)
		})
	}
}

func TestTally(t *testing.T) {
	var tl tally
	for _, r := range []result{{status: 200}, {status: 204}, {status: 502}, {err: "EOF"}, {status: 301}} {
		tl.add(r)
	}
	if tl.requests != 5 || tl.ok != 2 || tl.non2xx != 2 || tl.errors != 1 || tl.failures() != 3 {
		t.Errorf("tally = %+v, want 5 requests: 2 ok, 2 non-2xx, 1 error", tl)
	}
	if got := strings.Join(tl.samples, ","); got != "status 502,EOF,status 301" {
		t.Errorf("samples = %q", got)
	}
}

func TestParseWrkTally(t *testing.T) {
	report := `Running 10m test @ http://127.0.0.1:8080/k/x
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms    0.50ms  20.00ms   90.00%
    Req/Sec    12.00k     1.00k   14.00k    70.00%
  240000 requests in 10.00s, 30.00MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  24000.00
Transfer/sec:      3.00MB
`
	got, err := parseWrkTally(report)
	if err != nil {
		t.Fatalf("parseWrkTally: %v", err)
	}
	if got.requests != 240000 || got.errors != 6 || got.non2xx != 7 || got.failures() != 13 || got.ok != 240000-7 {
		t.Errorf("parseWrkTally = %+v, want 240000 requests, 6 socket errors, 7 non-2xx", got)
	}
	clean := "  100 requests in 1.00s, 1.00KB read\nRequests/sec: 100.00\n"
	if got, err := parseWrkTally(clean); err != nil || got.failures() != 0 || got.requests != 100 {
		t.Errorf("parseWrkTally(clean) = %+v, %v; want 100 requests, no failures", got, err)
	}
	for _, bad := range []string{"", "unable to connect to 127.0.0.1:8080 Connection refused\n", "  x requests in 1s\n", "  1 requests in 1s\n  Socket errors: connect\n"} {
		if _, err := parseWrkTally(bad); err == nil {
			t.Errorf("parseWrkTally(%q) = nil error, want one", bad)
		}
	}
}

func TestVerdictOutput(t *testing.T) {
	j := newJudge("x")
	j.note("requests", 10)
	j.need(true, "never shown")
	j.need(false, "a | pipe and\na newline")
	v := j.verdict()
	v.took = 1500 * time.Millisecond
	if got, want := v.line(), "FAIL x (1.5s): requests=10 -- a | pipe and\na newline"; got != want {
		t.Errorf("line() = %q, want %q", got, want)
	}
	ok := newJudge("y").verdict()
	vs := []verdict{v, ok, skipped("z", "no prlimit")}
	var b strings.Builder
	writeTable(&b, vs)
	want := "| experiment | verdict | time | key numbers | why |\n| --- | --- | --- | --- | --- |\n" +
		"| x | FAIL | 1.5s | requests=10 | a \\| pipe and a newline |\n" +
		"| y | PASS | 0.0s | - | - |\n" +
		"| z | SKIP | 0.0s | - | no prlimit |\n"
	if b.String() != want {
		t.Errorf("writeTable =\n%s\nwant\n%s", b.String(), want)
	}
	if !anyFailed(vs) || anyFailed(vs[1:]) {
		t.Errorf("anyFailed: a skip must not count as a failure, a fail must")
	}
	if got := firstFew([]string{"a", "b", "c", "d", "e"}); got != "a, b, c and 2 more" {
		t.Errorf("firstFew = %q", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		only    string
		wantErr string
	}{
		{nil, "", ""},
		{[]string{"-only", "slow_backend, reload_storm,slow_backend"}, "slow_backend,reload_storm", ""},
		{[]string{"-only", "slow_backend,nope"}, "", "-only nope: no such experiment"},
		{[]string{"-quick", "extra"}, "", `unexpected argument "extra"`},
		{[]string{"-wrk", "/no/such/wrk"}, "", "-wrk /no/such/wrk"},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseFlags(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(o.only, ",") != tt.only {
			t.Errorf("parseFlags(%q) = %q, %v; want only %q", tt.args, o.only, err, tt.only)
		}
	}
}

func TestExperimentBounds(t *testing.T) {
	// The whole run stays within its promise even if every experiment
	// runs to its hard bound: ~6.5 minutes by default.
	var total, quick time.Duration
	seen := map[string]bool{}
	for _, x := range experiments() {
		if seen[x.name] {
			t.Errorf("experiment %s listed twice", x.name)
		}
		seen[x.name] = true
		if x.quickBound > x.bound {
			t.Errorf("%s: quick bound %v over its bound %v", x.name, x.quickBound, x.bound)
		}
		total += x.bound
		quick += x.quickBound
	}
	if len(seen) != 8 {
		t.Errorf("%d experiments, want 8", len(seen))
	}
	if total > 7*time.Minute || quick > 5*time.Minute {
		t.Errorf("bounds add up to %v (quick %v)", total, quick)
	}
}
