package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// cell is every pass of one target through one scenario, and their medians.
type cell struct {
	Scenario string       `json:"scenario"`
	Target   string       `json:"target"`
	Passes   []passResult `json:"passes"`
	Median   *medians     `json:"median"` // nil when no pass succeeded
	// RatioToNginx is this cell's req/s over nginx's in the same scenario,
	// and RatioToHTTPUtil the same over the httputil reference's.
	RatioToNginx    *float64 `json:"ratio_to_nginx,omitempty"`
	RatioToHTTPUtil *float64 `json:"ratio_to_httputil,omitempty"`
	// Drill marks a restart drill's cell: its processes come and go during
	// the pass, so the per-process columns stay empty.
	Drill bool `json:"drill,omitempty"`
	// Skipped says why the scenario did not run on this machine.
	Skipped string `json:"skipped,omitempty"`
}

// medians are the per-field medians over a cell's successful passes; the
// error counts are totals.
type medians struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P90Ms          float64 `json:"p90_ms"`
	P99Ms          float64 `json:"p99_ms"`
	TransferPerSec float64 `json:"transfer_bytes_per_sec"`
	CPUMsPer1k     float64 `json:"cpu_ms_per_1k_requests"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	UpstreamChurn  float64 `json:"upstream_conns_churned"`
	StealPercent   float64 `json:"steal_percent"`
	OtherPercent   float64 `json:"other_cpu_percent"`
	Non2xx         int64   `json:"non_2xx_total"`
	SocketErrors   int64   `json:"socket_errors_total"`
	Passes         int     `json:"passes"`
}

// summarize fills in each cell's medians and ratios to nginx and the
// httputil reference.
func summarize(cells []cell) {
	nginx, httputil := map[string]float64{}, map[string]float64{}
	for i := range cells {
		c := &cells[i]
		var ok []passResult
		for _, p := range c.Passes {
			if p.Error == "" || p.Report.Requests > 0 {
				ok = append(ok, p)
			}
		}
		if len(ok) == 0 {
			continue
		}
		m := &medians{Passes: len(ok)}
		m.RequestsPerSec = medianOf(ok, func(p passResult) float64 { return p.Report.RequestsPerSec })
		m.P50Ms = medianOf(ok, func(p passResult) float64 { return p.Report.P50Ms })
		m.P90Ms = medianOf(ok, func(p passResult) float64 { return p.Report.P90Ms })
		m.P99Ms = medianOf(ok, func(p passResult) float64 { return p.Report.P99Ms })
		m.TransferPerSec = medianOf(ok, func(p passResult) float64 { return p.Report.TransferPerSec })
		m.CPUMsPer1k = medianOf(ok, passResult.cpuMsPer1k)
		m.PeakRSSMiB = medianOf(ok, func(p passResult) float64 { return float64(p.PeakRSSBytes) / (1 << 20) })
		m.UpstreamChurn = medianOf(ok, func(p passResult) float64 { return float64(p.UpstreamChurn) })
		m.StealPercent = medianOf(ok, func(p passResult) float64 { return p.StealPercent })
		m.OtherPercent = medianOf(ok, func(p passResult) float64 { return p.OtherPercent })
		for _, p := range ok {
			m.Non2xx += p.Report.Non2xx
			m.SocketErrors += p.Report.socketErrors()
		}
		c.Median = m
		switch c.Target {
		case targetNginx:
			nginx[c.Scenario] = m.RequestsPerSec
		case targetHTTPUtil:
			httputil[c.Scenario] = m.RequestsPerSec
		}
	}
	ratio := func(c *cell, base map[string]float64) *float64 {
		if n := base[c.Scenario]; n > 0 && c.Median != nil {
			r := c.Median.RequestsPerSec / n
			return &r
		}
		return nil
	}
	for i := range cells {
		c := &cells[i]
		c.RatioToNginx = ratio(c, nginx)
		c.RatioToHTTPUtil = ratio(c, httputil)
	}
}

// writeSummary writes summary.md and summary.json into dir and returns the
// Markdown.
func writeSummary(dir string, m meta, cells []cell) (string, error) {
	summarize(cells)
	md := summaryMarkdown(m, cells)
	js, err := json.MarshalIndent(struct {
		Meta    meta   `json:"meta"`
		Results []cell `json:"results"`
	}{m, cells}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(md), 0o644); err != nil {
		return "", err
	}
	return md, os.WriteFile(filepath.Join(dir, "summary.json"), append(js, '\n'), 0o644)
}

// summaryMarkdown renders the run as a Markdown page: what ran where, the
// table, the budget, and anything that makes a number doubtful.
func summaryMarkdown(m meta, cells []cell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferrum load test, %s\n\n", m.Started)
	fmt.Fprintf(&b, "%d cores (%s), kernel %s. ", m.Cores, m.Host["cpu"], m.Host["kernel"])
	gogc := m.Settings["gogc"]
	if gogc == "" {
		gogc = "Go's default"
	}
	fmt.Fprintf(&b, "wrk %s threads, %s connections, %s warm-up, %s measured, %s round(s); ferrum GOGC: %s.\n\n",
		m.Settings["threads"], m.Settings["connections"], m.Settings["warmup"], m.Settings["duration"], m.Settings["rounds"], gogc)
	keys := make([]string, 0, len(m.Versions))
	for k := range m.Versions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, m.Versions[k])
	}
	b.WriteString("\n" + summaryTable(cells))
	if budget := budgetLines(cells); len(budget) > 0 {
		b.WriteString("\n## Budget (ferrum against nginx, HAProxy and the httputil reference, same run)\n\n")
		for _, line := range budget {
			b.WriteString("- " + line + "\n")
		}
	}
	if drills := drillLines(cells); len(drills) > 0 {
		b.WriteString("\n## Restart drills\n\n")
		b.WriteString("PASS: 0 socket errors, 0 non-2xx answers, every drained ferrum exited 0.\n\n")
		for _, line := range drills {
			b.WriteString("- " + line + "\n")
		}
	}
	var notes []string
	for _, c := range cells {
		if c.Skipped != "" {
			notes = append(notes, fmt.Sprintf("%s: skipped: %s", c.Scenario, c.Skipped))
		}
		if noRetries(c) {
			notes = append(notes, fmt.Sprintf("%s via %s: the Go references do not retry, so the failing backend's 503s reach wrk and count as non-2xx; its req/s is not comparable with the retrying proxies'", c.Scenario, c.Target))
		}
		for _, p := range c.Passes {
			where := fmt.Sprintf("%s via %s, round %d", c.Scenario, c.Target, p.Round)
			if p.Error != "" {
				notes = append(notes, where+": "+p.Error)
			}
			if p.StealFlagged {
				notes = append(notes, fmt.Sprintf("%s: the host stole %.1f%% of the CPU (over %.0f%%)", where, p.StealPercent, stealLimit))
			}
			if p.OtherFlagged {
				notes = append(notes, fmt.Sprintf("%s: %.1f%% of the CPU went to other programs (over %.0f%%)", where, p.OtherPercent, otherLimit))
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

// drillLines is a line per pass of every restart drill among cells.
func drillLines(cells []cell) []string {
	var lines []string
	for _, c := range cells {
		if !c.Drill {
			continue
		}
		for _, p := range c.Passes {
			lines = append(lines, drillLine(c.Scenario, p))
		}
	}
	return lines
}

// noRetries reports whether c is a Go reference in a scenario where the
// other proxies retry: it passes the failures on instead.
func noRetries(c cell) bool {
	s, ok := scenarioByName(c.Scenario)
	return ok && s.retrying && (c.Target == targetHTTPUtil || c.Target == targetGoFloor)
}

// summaryTable is the Markdown table of every cell's medians.
func summaryTable(cells []cell) string {
	var b strings.Builder
	b.WriteString("| scenario | target | req/s | p50 | p90 | p99 | transfer/s | CPU-ms/1k req | peak RSS MiB | vs nginx | non-2xx | socket errors | upstream churn | steal | other CPU |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, c := range cells {
		name := c.Target
		if noRetries(c) {
			name += " (no retries)"
		}
		m := c.Median
		if c.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | skipped | | | | | | | | | | | | |\n", c.Scenario, name)
			continue
		}
		if m == nil {
			fmt.Fprintf(&b, "| %s | %s | failed | | | | | | | | | | | | |\n", c.Scenario, name)
			continue
		}
		// direct has no proxy to measure, and its "upstream" connections
		// are wrk's own, closed at the end of every pass. A drill's
		// processes are replaced during the pass.
		cpu, rss, churn := "–", "–", "–"
		if c.Target != targetDirect && !c.Drill {
			cpu, rss = fmt.Sprintf("%.1f", m.CPUMsPer1k), fmt.Sprintf("%.1f", m.PeakRSSMiB)
			churn = fmt.Sprintf("%.0f", m.UpstreamChurn)
		}
		ratio := "–"
		if c.RatioToNginx != nil {
			ratio = fmt.Sprintf("%.2fx", *c.RatioToNginx)
		}
		steal, other := fmt.Sprintf("%.1f%%", m.StealPercent), fmt.Sprintf("%.1f%%", m.OtherPercent)
		if m.StealPercent > stealLimit {
			steal += " (!)"
		}
		if m.OtherPercent > otherLimit {
			other += " (!)"
		}
		if c.Drill {
			other = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s |\n",
			c.Scenario, name, m.RequestsPerSec, fmtMs(m.P50Ms), fmtMs(m.P90Ms), fmtMs(m.P99Ms),
			fmtRate(m.TransferPerSec), cpu, rss, ratio, m.Non2xx, m.SocketErrors, churn, steal, other)
	}
	return b.String()
}

// budgetLines checks the performance budget on the cells of ferrum and the
// targets it is held against in the same run. A point is left out when a
// cell it needs is missing.
func budgetLines(cells []cell) []string {
	find := func(scenario, target string) *medians {
		for _, c := range cells {
			if c.Scenario == scenario && c.Target == target {
				return c.Median
			}
		}
		return nil
	}
	verdict := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "missed"
	}
	var lines []string
	for _, want := range []struct {
		scenario, against string
		ratio             float64
	}{
		{"healthy_get", targetNginx, 0.9},
		{"upload_post", targetNginx, 0.9},
		{"large_response", targetHAProxy, 1.0},
		{"retry_get", targetNginx, 1.0},
	} {
		f, o := find(want.scenario, targetFerrum), find(want.scenario, want.against)
		if f == nil || o == nil || o.RequestsPerSec == 0 {
			continue
		}
		r := f.RequestsPerSec / o.RequestsPerSec
		lines = append(lines, fmt.Sprintf("%s: %.2fx %s's req/s (budget ≥ %.2fx): %s", want.scenario, r, want.against, want.ratio, verdict(r >= want.ratio)))
	}
	if f, n := find("healthy_get", targetFerrum), find("healthy_get", targetNginx); f != nil && n != nil && n.CPUMsPer1k > 0 {
		r := f.CPUMsPer1k / n.CPUMsPer1k
		lines = append(lines, fmt.Sprintf("healthy_get CPU: %.1f ms per 1k requests against nginx's %.1f, %.2fx (budget ≤ 1.4x): %s", f.CPUMsPer1k, n.CPUMsPer1k, r, verdict(r <= 1.4)))
	}
	if f := find("retry_get", targetFerrum); f != nil {
		lines = append(lines, fmt.Sprintf("retry_get: %.0f upstream connections churned (budget: connections reused, none churned): %s", f.UpstreamChurn, verdict(f.UpstreamChurn == 0)))
	}
	if f, h := find("healthy_get", targetFerrum), find("healthy_get", targetHTTPUtil); f != nil && h != nil && h.RequestsPerSec > 0 {
		r := f.RequestsPerSec / h.RequestsPerSec
		lines = append(lines, fmt.Sprintf("healthy_get: ferrum %.2fx the httputil reference (budget ≥ 1.3x): %s", r, verdict(r >= 1.3)))
	}
	for _, s := range allScenarios {
		f, n := find(s.name, targetFerrum), find(s.name, targetNginx)
		if f == nil || n == nil || n.P99Ms == 0 {
			continue
		}
		r := f.P99Ms / n.P99Ms
		lines = append(lines, fmt.Sprintf("%s p99: %s against nginx's %s, %.2fx (budget ≤ 1.2x): %s", s.name, fmtMs(f.P99Ms), fmtMs(n.P99Ms), r, verdict(r <= 1.2)))
	}
	if many, base := find("many_routes", targetFerrum), find("many_routes_baseline", targetFerrum); many != nil && base != nil && base.RequestsPerSec > 0 {
		r := many.RequestsPerSec / base.RequestsPerSec
		lines = append(lines, fmt.Sprintf("many_routes: %.2fx of the same requests to one route (many_routes_baseline) (budget ≥ 0.95x): %s", r, verdict(r >= 0.95)))
	}
	if many, healthy := find("many_routes", targetFerrum), find("healthy_get", targetFerrum); many != nil && healthy != nil && healthy.RequestsPerSec > 0 {
		r := many.RequestsPerSec / healthy.RequestsPerSec
		line := fmt.Sprintf("many_routes: %.2fx of healthy_get's req/s (budget ≥ 0.95x): %s", r, verdict(r >= 0.95))
		if nm, nh := find("many_routes", targetNginx), find("healthy_get", targetNginx); nm != nil && nh != nil && nh.RequestsPerSec > 0 {
			line += fmt.Sprintf("; nginx's own ratio is %.2fx", nm.RequestsPerSec/nh.RequestsPerSec)
		}
		lines = append(lines, line)
	}
	return lines
}

// fmtMs writes a latency in ms, or in s from a second up.
func fmtMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

// fmtRate writes bytes per second in binary units, as wrk does.
func fmtRate(bps float64) string {
	units := []string{"B", "KiB", "MiB", "GiB"}
	i := 0
	for bps >= 1024 && i < len(units)-1 {
		bps /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s/s", bps, units[i])
}
