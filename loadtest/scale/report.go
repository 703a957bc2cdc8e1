package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// budget is the scale budget of issue 11, stated for 10,000 routes over 4
// backends probed every 5 s.
type budget struct {
	routes     int
	serving    time.Duration // start to serving, at most
	rss        uint64        // bytes, at most
	idleCPU    float64       // percent of one core, at most
	probesMean float64       // probes per backend per interval, mean over the backends, at most
	reload     time.Duration // SIGHUP adding a route to that route served, at most
}

// issue11 is the budget the tool checks.
var issue11 = budget{
	routes:     10000,
	serving:    time.Second,
	rss:        128 << 20,
	idleCPU:    2,
	probesMean: 1.5,
	reload:     200 * time.Millisecond,
}

// check is one point of a budget, as measured.
type check struct {
	Point    string `json:"point"`
	Measured string `json:"measured"`
	Limit    string `json:"limit"`
	// Verdict is "holds", "misses" or "not measured".
	Verdict string `json:"verdict"`
}

// verdictRow picks the row the budget is judged on: the one with the
// most routes among those that served, or that ferrum ran but did not
// serve within the tool's wait; nil when there is none.
func verdictRow(rows []row) *row {
	var best *row
	for i := range rows {
		r := &rows[i]
		if r.StartToServingSeconds == nil && r.NotServingAfterSeconds == nil {
			continue
		}
		if best == nil || r.Routes > best.Routes {
			best = r
		}
	}
	return best
}

// judge checks r against b, point by point.
func judge(r row, b budget) []check {
	at := func(point, limit string, measured *float64, max float64, show func(float64) string) check {
		c := check{Point: point, Limit: limit, Verdict: "not measured", Measured: "–"}
		if measured != nil {
			c.Measured = show(*measured)
			c.Verdict = "misses"
			if *measured <= max {
				c.Verdict = "holds"
			}
		}
		return c
	}
	var rss *float64
	if r.RSSBytes != nil {
		rss = ptr(float64(*r.RSSBytes))
	}
	probes := at("probes per backend per interval", "mean <= "+strconv.FormatFloat(b.probesMean, 'f', -1, 64),
		r.ProbesMean, b.probesMean, func(v float64) string {
			if r.ProbesMax == nil {
				return fmt.Sprintf("mean %.2f", v)
			}
			return fmt.Sprintf("mean %.2f (max %.2f)", v, *r.ProbesMax)
		})
	serving := at("start to serving", "<= "+fmtDuration(b.serving.Seconds()), r.StartToServingSeconds, b.serving.Seconds(), fmtDuration)
	if r.StartToServingSeconds == nil && r.NotServingAfterSeconds != nil {
		serving.Measured, serving.Verdict = servingCell(r), "misses"
	}
	return []check{
		serving,
		at("RSS", "<= "+fmtMiB(b.rss), rss, float64(b.rss), func(v float64) string { return fmtMiB(uint64(v)) }),
		at("idle CPU", "<= "+fmtPercent(b.idleCPU)+" of a core", r.IdleCPUPercent, b.idleCPU, fmtPercent),
		probes,
		at("SIGHUP add-route to served", "<= "+fmtDuration(b.reload.Seconds()), r.ReloadSeconds, b.reload.Seconds(), fmtDuration),
	}
}

// formatVerdict is the Markdown account of checks, judged on routes.
func formatVerdict(routes int, b budget, checks []check) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Budget of issue 11 at %s routes:\n", fmtCount(routes))
	if routes != b.routes {
		fmt.Fprintf(&s, "(the budget is stated for %s routes; this run's largest measured count is %s)\n", fmtCount(b.routes), fmtCount(routes))
	}
	s.WriteString("\n| point | measured | budget | verdict |\n| --- | ---: | ---: | --- |\n")
	for _, c := range checks {
		fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", c.Point, c.Measured, c.Limit, c.Verdict)
	}
	s.WriteString("\nmany_routes req/s within 5% of healthy_get, the budget's last point, is measured by loadtest/harness.\n")
	return s.String()
}

// formatWarnings lists every row's warnings under the table, or is empty.
func formatWarnings(rows []row) string {
	var s strings.Builder
	for _, r := range rows {
		for _, w := range r.Warnings {
			fmt.Fprintf(&s, "- %s routes: %s\n", fmtCount(r.Routes), w)
		}
	}
	if s.Len() == 0 {
		return ""
	}
	return "\nWarnings:\n" + s.String()
}

// formatTable is the Markdown table of rows, one line per number of
// routes; a dash marks what was not measured.
func formatTable(rows []row) string {
	var s strings.Builder
	s.WriteString("| routes | start to serving | RSS | goroutines | idle CPU | probes/backend/interval (mean, max) | SIGHUP add-route to served | nginx RSS | HAProxy RSS |\n")
	s.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		cells := []string{
			fmtCount(r.Routes),
			servingCell(r),
			orDash(r.RSSBytes, fmtMiB),
			orDash(r.Goroutines, fmtCount),
			orDash(r.IdleCPUPercent, fmtPercent),
			"–",
			orDash(r.ReloadSeconds, fmtDuration),
			fmtOther(r.Nginx),
			fmtOther(r.HAProxy),
		}
		if r.ProbesMean != nil && r.ProbesMax != nil {
			cells[5] = fmtProbes(*r.ProbesMean, *r.ProbesMax)
		}
		if r.Error != "" {
			cells[0] += " (failed)"
		}
		s.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return s.String()
}

// servingCell shows the start to serving, or that it took longer than the
// tool waited.
func servingCell(r row) string {
	if r.StartToServingSeconds == nil && r.NotServingAfterSeconds != nil {
		return "> " + fmtDuration(*r.NotServingAfterSeconds)
	}
	return orDash(r.StartToServingSeconds, fmtDuration)
}

// fmtOther is a rival's cell: its RSS and, in parentheses, its start to
// serving.
func fmtOther(o *other) string {
	switch {
	case o == nil:
		return "–"
	case o.RSSBytes == nil || o.StartToServingSeconds == nil:
		return "failed"
	}
	return fmt.Sprintf("%s (%s)", fmtMiB(*o.RSSBytes), fmtDuration(*o.StartToServingSeconds))
}

func orDash[T any](v *T, show func(T) string) string {
	if v == nil {
		return "–"
	}
	return show(*v)
}

// fmtDuration shows seconds as milliseconds below one second, as seconds
// from there.
func fmtDuration(sec float64) string {
	switch {
	case sec < 0.01:
		return fmt.Sprintf("%.1f ms", sec*1000)
	case sec < 1:
		return fmt.Sprintf("%.0f ms", sec*1000)
	}
	return fmt.Sprintf("%.2f s", sec)
}

func fmtMiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func fmtPercent(p float64) string { return fmt.Sprintf("%.1f%%", p) }

func fmtProbes(mean, max float64) string { return fmt.Sprintf("%.2f, %.2f", mean, max) }

// fmtCount writes n with commas between thousands: 10,000.
func fmtCount(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// meta describes the run for -json.
type meta struct {
	Started  string `json:"started"`
	Finished string `json:"finished"`
	Commit   string `json:"commit"`
	// FerrumBinary is the -ferrum flag; empty when the tool built ferrum
	// from the module at Commit.
	FerrumBinary    string   `json:"ferrum_binary"`
	GoVersion       string   `json:"go_version"`
	CPUs            int      `json:"cpus"`
	Backends        int      `json:"backends"`
	IntervalSeconds float64  `json:"health_interval_seconds"`
	IdleWindow      float64  `json:"idle_window_seconds"`
	ProbeIntervals  int      `json:"probe_intervals"`
	Compared        []string `json:"compared"`
}

// report is the -json file.
type report struct {
	Meta          meta    `json:"meta"`
	Results       []row   `json:"results"`
	VerdictRoutes int     `json:"verdict_routes,omitempty"`
	Verdict       []check `json:"verdict,omitempty"`
}

// writeJSON writes rep to path, indented.
func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
