package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// runTool runs the tool in-process with args and -json, and returns its
// exit code, output and report.
func runTool(t *testing.T, args ...string) (int, string, string, report) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "scale.json")
	var stdout, stderr strings.Builder
	code := run(t.Context(), append(args, "-json", jsonPath), &stdout, &stderr)
	var rep report
	if b, err := os.ReadFile(jsonPath); err == nil {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("-json file: %v", err)
		}
	}
	return code, stdout.String(), stderr.String(), rep
}

// TestEndToEnd builds ferrum and measures it at 10 routes with a short
// interval. SCALE_TEST_FERRUM may name a ferrum binary to measure instead,
// for a tree that does not build while it is being changed.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ferrum")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	args := []string{"-routes", "10", "-interval", "200ms", "-idle-window", "1s", "-probe-intervals", "3", "-timeout", "5m"}
	if bin := os.Getenv("SCALE_TEST_FERRUM"); bin != "" {
		args = append(args, "-ferrum", bin)
	}
	code, stdout, stderr, rep := runTool(t, args...)
	if code != 0 {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1:\n%s", len(rep.Results), stdout)
	}
	r := rep.Results[0]
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"routes", r.Routes == 10},
		{"start to serving", r.StartToServingSeconds != nil && *r.StartToServingSeconds > 0},
		{"RSS", r.RSSBytes != nil && *r.RSSBytes > 1<<20},
		{"goroutines", r.Goroutines != nil && *r.Goroutines > 0},
		{"idle CPU", r.IdleCPUPercent != nil && *r.IdleCPUPercent >= 0},
		// Each backend is probed at least once per interval, however the
		// probes are shared among the routes.
		{"probes", r.ProbesMean != nil && *r.ProbesMean >= 0.5 && len(r.ProbesPerInterval) == backendCount},
		{"reload", r.ReloadSeconds != nil && *r.ReloadSeconds > 0},
		{"exit code", r.ExitCode != nil && *r.ExitCode == 0},
		{"no error", r.Error == ""},
		{"verdict", rep.VerdictRoutes == 10 && len(rep.Verdict) == 5},
	} {
		if !c.ok {
			t.Errorf("%s not as expected in %+v", c.name, r)
		}
	}
	for _, want := range []string{"| 10 | ", "Budget of issue 11 at 10 routes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout has no %q:\n%s", want, stdout)
		}
	}
}

// TestFerrumThatExits measures a "ferrum" that ends at once: the run
// fails, says why, and with -keep-going goes on with the next count.
func TestFerrumThatExits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	bin := script(t, "exit 3")
	for _, tc := range []struct {
		keepGoing bool
		rows      int
	}{{false, 1}, {true, 2}} {
		args := []string{"-ferrum", bin, "-routes", "1,2", "-timeout", "1m"}
		if tc.keepGoing {
			args = append(args, "-keep-going")
		}
		code, stdout, stderr, rep := runTool(t, args...)
		if code != 1 || len(rep.Results) != tc.rows {
			t.Fatalf("keep-going %v: exit %d with %d rows, want 1 with %d\n%s\n%s", tc.keepGoing, code, len(rep.Results), tc.rows, stdout, stderr)
		}
		if e := rep.Results[0].Error; !strings.Contains(e, "ended before GET") || !strings.Contains(e, "exit status 3") {
			t.Errorf("error = %q, want it to say ferrum ended with status 3", e)
		}
		if !strings.Contains(stdout, "| 1 (failed) |") || strings.Contains(stdout, "Budget") {
			t.Errorf("stdout should show the failed row and no verdict:\n%s", stdout)
		}
	}
}

// TestTimeoutStopsFerrum gives a "ferrum" that never serves a run
// -timeout shorter than its wait, and checks the run ends, reports the
// timeout and leaves nothing running.
func TestTimeoutStopsFerrum(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pidFile := filepath.Join(t.TempDir(), "pid")
	bin := script(t, "echo $$ > "+pidFile+"\nexec sleep 600")
	code, stdout, stderr, rep := runTool(t, "-ferrum", bin, "-routes", "1", "-timeout", "500ms")
	if code != 1 || len(rep.Results) != 1 || !strings.Contains(rep.Results[0].Error, "-timeout 500ms reached") {
		t.Fatalf("exit %d, results %+v; want 1 and a timeout error\n%s\n%s", code, rep.Results, stdout, stderr)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		// Stopped before it could write its pid: nothing left to look for.
		t.Logf("the stand-in ferrum wrote no pid: %v", err)
		return
	}
	// The tool reaps what it stops, so the pid no longer exists.
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(b))); !os.IsNotExist(err) {
		t.Errorf("the stand-in ferrum (pid %s) is still there: %v", strings.TrimSpace(string(b)), err)
	}
}

// script writes an executable shell script with body and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferrum")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
