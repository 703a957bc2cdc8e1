//go:build linux

package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
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

func TestReaperKillsTheGroup(t *testing.T) {
	r := newReaper()
	// The shell's own child must die with it: it is in the same group.
	cmd := exec.Command("sh", "-c", "sleep 60 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	c, err := r.start("sh", cmd, func() { <-read })
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("no pid from the shell")
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(read); io.Copy(io.Discard, out) }()
	if !c.alive() {
		t.Fatal("shell exited early")
	}
	r.killAll()
	if c.alive() || c.exitCode() != 128+9 {
		t.Errorf("after killAll: alive %v, exit code %d; want dead by SIGKILL (137)", c.alive(), c.exitCode())
	}
	gone := pollFor(context.Background(), 10*time.Second, 20*time.Millisecond, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(grandchild) + "/stat")
		if err != nil {
			return true
		}
		// A zombie waiting for init to reap it is dead too.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(fields) > 0 && fields[0] == "Z"
	})
	if !gone {
		t.Errorf("the shell's child %d outlived killAll", grandchild)
	}
	r.killAll() // again: a no-op
}

// TestSlowBackendEndToEnd builds ferrum and runs one whole experiment
// against it.
func TestSlowBackendEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferrum and runs it: not in -short")
	}
	root, err := moduleRoot()
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
