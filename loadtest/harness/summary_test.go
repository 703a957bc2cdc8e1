package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// pass is a successful pass with the numbers the summary reads.
func pass(rps, p99 float64, cpu float64, requests int64) passResult {
	return passResult{Round: 1, CPUSeconds: cpu, PeakRSSBytes: 32 << 20,
		Report: wrkReport{Requests: requests, RequestsPerSec: rps, P50Ms: 1, P90Ms: 2, P99Ms: p99, TransferPerSec: 1 << 20}}
}

func TestSummarize(t *testing.T) {
	cells := []cell{
		{Scenario: "healthy_get", Target: targetFerrum, Passes: []passResult{pass(18000, 8, 6, 180000), pass(20000, 9, 6, 200000), pass(1000, 90, 6, 10000)}},
		{Scenario: "healthy_get", Target: targetNginx, Passes: []passResult{pass(30000, 6, 6, 300000)}},
		{Scenario: "healthy_get", Target: targetHAProxy, Passes: []passResult{{Error: "haproxy exited"}}},
		{Scenario: "healthy_get", Target: targetHTTPUtil, Passes: []passResult{pass(12000, 10, 9, 120000)}},
		{Scenario: "retry_get", Target: targetFerrum, Passes: []passResult{pass(13000, 12, 8, 130000)}},
		{Scenario: "retry_get", Target: targetHTTPUtil, Passes: []passResult{pass(15000, 9, 8, 150000)}},
		{Scenario: "many_routes", Target: targetFerrum, Passes: []passResult{pass(17000, 20, 8, 170000)}},
		{Scenario: "many_routes", Target: targetNginx, Passes: []passResult{pass(29000, 7, 6, 290000)}},
		{Scenario: "large_response", Target: targetFerrum, Passes: []passResult{pass(3300, 30, 6, 33000)}},
		{Scenario: "large_response", Target: targetHAProxy, Passes: []passResult{pass(3000, 30, 6, 30000)}},
	}
	summarize(cells)
	f := cells[0]
	if f.Median == nil || f.Median.RequestsPerSec != 18000 || f.Median.P99Ms != 9 || f.Median.Passes != 3 {
		t.Fatalf("ferrum healthy_get median = %+v, want 18000 req/s, p99 9 over 3 passes", f.Median)
	}
	if got := f.Median.CPUMsPer1k; got != 33.333333333333336 {
		t.Errorf("CPU-ms per 1k = %v, want the median of 33.3, 30 and 600", got)
	}
	if f.RatioToNginx == nil || *f.RatioToNginx != 0.6 {
		t.Errorf("ratio to nginx = %v, want 0.6", f.RatioToNginx)
	}
	if f.RatioToHTTPUtil == nil || *f.RatioToHTTPUtil != 1.5 {
		t.Errorf("ratio to httputil = %v, want 1.5", f.RatioToHTTPUtil)
	}
	if cells[2].Median != nil || cells[2].RatioToNginx != nil {
		t.Errorf("failed haproxy cell got a median %+v", cells[2].Median)
	}
	if r := cells[4].RatioToNginx; r != nil {
		t.Errorf("retry_get has no nginx cell, yet ferrum got a ratio to nginx of %v", *r)
	}

	table := summaryTable(cells)
	for _, want := range []string{
		"| healthy_get | ferrum | 18000 | 1.00 ms | 2.00 ms | 9.00 ms | 1.0 MiB/s | 33.3 | 32.0 | 0.60x | 0 | 0 | 0 | 0.0% | 0.0% |",
		"| healthy_get | haproxy | failed |",
		"| healthy_get | httputil | 12000 | 1.00 ms | 2.00 ms | 10.00 ms | 1.0 MiB/s | 75.0 | 32.0 | 0.40x | 0 | 0 | 0 | 0.0% | 0.0% |",
		"| retry_get | httputil (no retries) | 15000 |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table has no row %q:\n%s", want, table)
		}
	}
	budget := strings.Join(budgetLines(cells), "\n")
	for _, want := range []string{
		"healthy_get: 0.60x nginx's req/s (budget ≥ 0.90x): missed",
		"large_response: 1.10x haproxy's req/s (budget ≥ 1.00x): holds",
		"healthy_get CPU: 33.3 ms per 1k requests against nginx's 20.0, 1.67x (budget ≤ 1.4x): missed",
		"retry_get: 0 upstream connections churned (budget: connections reused, none churned): holds",
		"healthy_get: ferrum 1.50x the httputil reference (budget ≥ 1.3x): holds",
		"healthy_get p99: 9.00 ms against nginx's 6.00 ms, 1.50x (budget ≤ 1.2x): missed",
		"many_routes p99: 20.00 ms against nginx's 7.00 ms, 2.86x (budget ≤ 1.2x): missed",
		"many_routes: 0.94x of healthy_get's req/s (budget ≥ 0.95x): missed; nginx's own ratio is 0.97x",
	} {
		if !strings.Contains(budget, want) {
			t.Errorf("budget has no line %q:\n%s", want, budget)
		}
	}

	md := summaryMarkdown(meta{Started: "2026-01-01T00:00:00Z"}, cells)
	for _, want := range []string{
		"## Budget (ferrum against nginx, HAProxy and the httputil reference, same run)",
		"- retry_get via httputil: the Go references do not retry",
		"- healthy_get via haproxy, round 0: haproxy exited",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md has no %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "healthy_get via httputil: the Go references do not retry") {
		t.Errorf("summary.md says the reference fails to retry in healthy_get, where nobody retries")
	}
}

// TestHTTPUtilBudgetMissed checks the reference's budget line on its own:
// with no nginx cell, and when ferrum falls short of 1.3x.
func TestHTTPUtilBudgetMissed(t *testing.T) {
	cells := []cell{
		{Scenario: "healthy_get", Target: targetFerrum, Passes: []passResult{pass(12000, 8, 6, 120000)}},
		{Scenario: "healthy_get", Target: targetHTTPUtil, Passes: []passResult{pass(10000, 9, 8, 100000)}},
	}
	summarize(cells)
	got := budgetLines(cells)
	want := "healthy_get: ferrum 1.20x the httputil reference (budget ≥ 1.3x): missed"
	if len(got) != 1 || got[0] != want {
		t.Errorf("budget lines = %q, want just %q", got, want)
	}
}

func TestFormatters(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{fmtMs(0.8125), "0.81 ms"}, {fmtMs(1500), "1.50 s"},
		{fmtRate(512), "512.0 B/s"}, {fmtRate(40 << 20), "40.0 MiB/s"}, {fmtRate(1.5 * (1 << 30)), "1.5 GiB/s"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--scenarios", "many_routes,healthy_get", "--compare", "direct,httputil,nginx", "--duration", "5s"}, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	var names []string
	for _, s := range o.scenarios {
		names = append(names, s.name)
	}
	if got := strings.Join(names, ","); got != "healthy_get,many_routes" {
		t.Errorf("scenarios = %s, want healthy_get,many_routes (the usual order)", got)
	}
	if got := strings.Join(o.compare, ","); got != "nginx,httputil,direct" {
		t.Errorf("compare = %s, want nginx,httputil,direct", got)
	}
	if o.duration != 5*time.Second || o.threads != 2 || o.connections != 64 || o.rounds != 1 || o.gogc != "" {
		t.Errorf("options = %+v, want 5s and the defaults", o)
	}
	for _, bad := range [][]string{
		{"--scenarios", "nope"},
		{"--compare", "caddy"},
		{"--duration", "500ms"},
		{"--warmup", "1500ms"},
		{"--threads", "8", "--connections", "4"},
		{"--rounds", "0"},
		{"--skip-build"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) = nil error, want one", bad)
		}
	}
}
