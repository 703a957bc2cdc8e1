package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fullRow is a row with every ferrum field measured.
func fullRow(routes int, serving float64, rss uint64, cpu, probesMean, probesMax, reload float64) row {
	return row{
		Routes: routes, StartToServingSeconds: ptr(serving), RSSBytes: ptr(rss), PeakRSSBytes: ptr(rss),
		Goroutines: ptr(routes * 9), IdleCPUPercent: ptr(cpu), ProbesMean: ptr(probesMean), ProbesMax: ptr(probesMax),
		ProbesPerInterval: []float64{probesMean, probesMax}, ReloadSeconds: ptr(reload), ExitCode: ptr(0),
	}
}

func TestJudge(t *testing.T) {
	verdicts := func(cs []check) string {
		v := make([]string, len(cs))
		for i, c := range cs {
			v[i] = c.Verdict
		}
		return strings.Join(v, ",")
	}
	for _, tc := range []struct {
		name string
		r    row
		want string
	}{
		{"all within", fullRow(10000, 0.4, 60<<20, 0.5, 1, 1.2, 0.05), "holds,holds,holds,holds,holds"},
		{"on every line", fullRow(10000, 1, 128<<20, 2, 1.5, 3, 0.2), "holds,holds,holds,holds,holds"},
		{"just over every line", fullRow(10000, 1.001, 128<<20+1, 2.01, 1.51, 1.51, 0.201), "misses,misses,misses,misses,misses"},
		// The budget is on the mean; one backend probed twice is allowed.
		{"max over, mean within", fullRow(10000, 0.1, 1, 0, 1.25, 2, 0), "holds,holds,holds,holds,holds"},
		{"today's 1,000 routes", fullRow(1000, 1.55, 249<<20, 11, 1000, 1000, 0.1), "misses,misses,misses,misses,holds"},
		{"only start-up measured", row{Routes: 10, StartToServingSeconds: ptr(0.03)}, "holds,not measured,not measured,not measured,not measured"},
		{"never served", row{Routes: 10000, NotServingAfterSeconds: ptr(120.0)}, "misses,not measured,not measured,not measured,not measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verdicts(judge(tc.r, issue11)); got != tc.want {
				t.Errorf("judge = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestJudgeText(t *testing.T) {
	cs := judge(fullRow(10000, 0.25, 100<<20, 1.25, 1, 1.5, 0.012), issue11)
	want := []check{
		{"start to serving", "250 ms", "<= 1.00 s", "holds"},
		{"RSS", "100.0 MiB", "<= 128.0 MiB", "holds"},
		{"idle CPU", "1.2%", "<= 2.0% of a core", "holds"},
		{"probes per backend per interval", "mean 1.00 (max 1.50)", "mean <= 1.5", "holds"},
		{"SIGHUP add-route to served", "12 ms", "<= 200 ms", "holds"},
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Errorf("check %d = %+v, want %+v", i, cs[i], want[i])
		}
	}
}

func TestVerdictRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []row
		want int // routes of the chosen row; 0 for none
	}{
		{"none", nil, 0},
		{"largest", []row{fullRow(10, 1, 1, 1, 1, 1, 1), fullRow(1000, 1, 1, 1, 1, 1, 1), fullRow(100, 1, 1, 1, 1, 1, 1)}, 1000},
		{"largest that served", []row{fullRow(100, 1, 1, 1, 1, 1, 1), {Routes: 10000, Error: "timeout"}}, 100},
		{"failed later still counts", []row{fullRow(10, 1, 1, 1, 1, 1, 1), {Routes: 100, StartToServingSeconds: ptr(2.0), Error: "reload"}}, 100},
		{"nothing served", []row{{Routes: 10, Error: "x"}}, 0},
		{"ran but did not serve", []row{fullRow(1000, 1, 1, 1, 1, 1, 1), {Routes: 10000, NotServingAfterSeconds: ptr(120.0), Error: "x"}}, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := 0
			if r := verdictRow(tc.rows); r != nil {
				got = r.Routes
			}
			if got != tc.want {
				t.Errorf("verdictRow = %d routes, want %d", got, tc.want)
			}
		})
	}
}

func TestFormatTable(t *testing.T) {
	ok := fullRow(1000, 1.55, 249<<20, 11.04, 999.66, 1000, 0.106)
	ok.Nginx = &other{StartToServingSeconds: ptr(0.155), RSSBytes: ptr(uint64(826 * (1 << 20) / 10))}
	ok.HAProxy = &other{Error: "start to serving: no 200"}
	failed := row{Routes: 5000, StartToServingSeconds: ptr(12.5), Error: "reload: no 200"}
	slow := row{Routes: 10000, NotServingAfterSeconds: ptr(120.01), Error: "start to serving: no 200"}
	got := formatTable([]row{fullRow(10, 0.033, 14<<20, 2.5, 10, 10, 0.0095), ok, failed, slow})
	want := `| routes | start to serving | RSS | goroutines | idle CPU | probes/backend/interval (mean, max) | SIGHUP add-route to served | nginx RSS | HAProxy RSS |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 10 | 33 ms | 14.0 MiB | 90 | 2.5% | 10.00, 10.00 | 9.5 ms | – | – |
| 1,000 | 1.55 s | 249.0 MiB | 9,000 | 11.0% | 999.66, 1000.00 | 106 ms | 82.6 MiB (155 ms) | failed |
| 5,000 (failed) | 12.50 s | – | – | – | – | – | – | – |
| 10,000 (failed) | > 120.01 s | – | – | – | – | – | – | – |
`
	if got != want {
		t.Errorf("formatTable =\n%s\nwant\n%s", got, want)
	}
}

func TestFormatWarnings(t *testing.T) {
	if got := formatWarnings([]row{fullRow(10, 1, 1, 1, 1, 1, 1)}); got != "" {
		t.Errorf("formatWarnings without warnings = %q, want empty", got)
	}
	rows := []row{{Routes: 10}, {Routes: 10000, Warnings: []string{"a", "b"}}}
	want := "\nWarnings:\n- 10,000 routes: a\n- 10,000 routes: b\n"
	if got := formatWarnings(rows); got != want {
		t.Errorf("formatWarnings = %q, want %q", got, want)
	}
}

func TestFormatVerdict(t *testing.T) {
	cs := judge(fullRow(1000, 0.5, 1<<20, 1, 1, 1, 0.01), issue11)
	got := formatVerdict(1000, issue11, cs)
	for _, want := range []string{
		"Budget of issue 11 at 1,000 routes:",
		"stated for 10,000 routes",
		"| RSS | 1.0 MiB | <= 128.0 MiB | holds |",
		"loadtest/harness",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("formatVerdict has no %q:\n%s", want, got)
		}
	}
	if strings.Contains(formatVerdict(10000, issue11, cs), "stated for") {
		t.Error("formatVerdict at 10,000 routes still says the budget is stated for another count")
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtDuration(0.0042), "4.2 ms"},
		{fmtDuration(0.0999), "100 ms"},
		{fmtDuration(0.999), "999 ms"},
		{fmtDuration(1), "1.00 s"},
		{fmtDuration(12.345), "12.35 s"},
		{fmtMiB(128 << 20), "128.0 MiB"},
		{fmtMiB(1536 << 10), "1.5 MiB"},
		{fmtPercent(0.04), "0.0%"},
		{fmtPercent(25.65), "25.6%"},
		{fmtCount(0), "0"},
		{fmtCount(999), "999"},
		{fmtCount(1000), "1,000"},
		{fmtCount(27523), "27,523"},
		{fmtCount(1234567), "1,234,567"},
		{fmtCount(-1000), "-1,000"},
		{fmtOther(nil), "–"},
		{fmtOther(&other{RSSBytes: ptr(uint64(1 << 20))}), "failed"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scale.json")
	rep := report{Meta: meta{Commit: "abc", Backends: 4}, Results: []row{fullRow(10, 0.03, 1<<20, 1, 10, 10, 0.01), {Routes: 100, Error: "boom"}}}
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	results := back["results"].([]any)
	first, second := results[0].(map[string]any), results[1].(map[string]any)
	if first["start_to_serving_seconds"] != 0.03 || first["probes_per_interval_mean"] != 10.0 {
		t.Errorf("first result = %v", first)
	}
	// What was not measured is null, never a zero that reads as a result.
	if v, ok := second["rss_bytes"]; !ok || v != nil {
		t.Errorf("unmeasured rss_bytes = %v (present %v), want null", v, ok)
	}
	if second["error"] != "boom" {
		t.Errorf("error = %v, want boom", second["error"])
	}
}
