//go:build linux

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ferrum/loadtest/proc"
)

// logWriter sends progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testEnv(t *testing.T) *env {
	return &env{work: t.TempDir(), progress: logWriter{t}}
}

func TestRunExperimentBoundAndPanic(t *testing.T) {
	tests := []struct {
		name    string
		run     func(r *run) verdict
		want    string
		reasons []string
	}{
		{"pass", func(r *run) verdict { return newJudge("x").verdict() }, pass, nil},
		{"panic", func(r *run) verdict { panic("boom") }, fail, []string{"panic: boom"}},
		{"overrun", func(r *run) verdict {
			<-r.ctx.Done()
			return newJudge("x").verdict()
		}, fail, []string{"hit its time bound of 50ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := experiment{name: "x", bound: 50 * time.Millisecond, quickBound: 50 * time.Millisecond, run: tt.run}
			if tt.name != "overrun" {
				x.bound, x.quickBound = time.Minute, time.Minute
			}
			v := runExperiment(context.Background(), testEnv(t), x)
			checkVerdict(t, v, tt.want, tt.reasons...)
			if v.name != "x" {
				t.Errorf("name = %q, want x", v.name)
			}
		})
	}
}

func TestReaperKillsAll(t *testing.T) {
	r := newReaper()
	var started []*proc.Process
	for _, name := range []string{"a", "b"} {
		p, err := r.start(name, exec.Command("sleep", "60"), nil)
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, p)
	}
	for _, p := range started {
		if !p.Alive() || exitCode(p) != -1 {
			t.Fatalf("%s: alive %v, exit code %d before killAll; want running, -1", p.Name(), p.Alive(), exitCode(p))
		}
	}
	r.killAll()
	for _, p := range started {
		if p.Alive() || exitCode(p) != 128+9 {
			t.Errorf("%s after killAll: alive %v, exit code %d; want dead by SIGKILL (137)", p.Name(), p.Alive(), exitCode(p))
		}
	}
	r.killAll() // again: a no-op
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -TERM $$", 128 + 15},
	} {
		r := newReaper()
		p, err := r.start("sh", exec.Command("sh", "-c", tc.script), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.WaitExit(10 * time.Second)
		if got := exitCode(p); got != tc.want {
			t.Errorf("exitCode(sh -c %q) = %d, want %d", tc.script, got, tc.want)
		}
		r.killAll()
	}
}

// TestSlowBackendEndToEnd builds ferrum and runs one whole experiment
// against it.
func TestSlowBackendEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferrum and runs it: not in -short")
	}
	root, err := proc.ModuleRoot("./loadtest/torture")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := testEnv(t)
	e.ferrumBin, e.backendBin, err = buildBinaries(ctx, root, e.work)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range experiments() {
		if x.name != "slow_backend" {
			continue
		}
		v := runExperiment(ctx, e, x)
		t.Log(v.line())
		if v.status != pass {
			t.Errorf("slow_backend: %s", v.line())
		}
		return
	}
	t.Fatal("no slow_backend experiment")
}
