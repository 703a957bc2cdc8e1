//go:build unix

package proc

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a waiting goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs script under sh as a Process and kills its group when the
// test ends.
func start(t *testing.T, script string, o Options) *Process {
	t.Helper()
	p, err := Start("sh", exec.Command("sh", "-c", script), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.KillGroup)
	return p
}

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		code         int
		status       string
		exitError    bool
	}{
		{"status 0", "exit 0", 0, "exit status 0", false},
		{"status 3", "exit 3", 3, "exit status 3", true},
		{"signal", "kill -KILL $$", -1, "signal: killed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.script, Options{})
			if !p.WaitExit(10 * time.Second) {
				t.Fatal("still running after 10s")
			}
			gone, how := p.Exited()
			if !gone || how != tc.status || p.Status() != tc.status || p.Alive() {
				t.Errorf("Exited, Status, Alive = %v %q, %q, %v; want true %q, %q, false", gone, how, p.Status(), p.Alive(), tc.status, tc.status)
			}
			if p.ExitCode() != tc.code {
				t.Errorf("ExitCode = %d, want %d", p.ExitCode(), tc.code)
			}
			var ee *exec.ExitError
			if errors.As(p.Err(), &ee) != tc.exitError {
				t.Errorf("Err = %v, want an *exec.ExitError: %v", p.Err(), tc.exitError)
			}
		})
	}
}

func TestRunning(t *testing.T) {
	p := start(t, "exec sleep 60", Options{DeathSignal: syscall.SIGKILL})
	if p.Name() != "sh" || p.Pid() <= 0 || time.Since(p.Started()) > time.Minute {
		t.Errorf("Name, Pid, Started = %q, %d, %v; want sh, a pid, just now", p.Name(), p.Pid(), p.Started())
	}
	gone, how := p.Exited()
	if gone || how != "" || !p.Alive() || p.Status() != "still running" || p.ExitCode() != -1 || p.Err() != nil {
		t.Errorf("running: Exited %v %q, Alive %v, Status %q, ExitCode %d, Err %v", gone, how, p.Alive(), p.Status(), p.ExitCode(), p.Err())
	}
	if p.WaitExit(10 * time.Millisecond) {
		t.Error("WaitExit = true while it sleeps")
	}
	select {
	case <-p.Done():
		t.Error("Done closed while it sleeps")
	default:
	}
	if pgid, err := syscall.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Errorf("process group = %d, %v; want its own, %d", pgid, err, p.Pid())
	}
}

func TestSignal(t *testing.T) {
	p := start(t, "exec sleep 60", Options{})
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("Signal(SIGHUP) = %v", err)
	}
	if !p.WaitExit(10*time.Second) || p.Status() != "signal: hangup" {
		t.Fatalf("after SIGHUP: %s", p.Status())
	}
	err := p.Signal(syscall.SIGHUP)
	if err == nil || !strings.Contains(err.Error(), "already ended: signal: hangup") {
		t.Errorf("Signal after the end = %v, want an error saying how it ended", err)
	}
}

func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		killed       bool
		code         int
	}{
		{"ends on SIGTERM", "echo ready; exec sleep 60", false, -1},
		{"exits 0 on SIGTERM", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done", false, 0},
		{"ignores SIGTERM", "trap '' TERM; echo ready; exec sleep 60", true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := startPiped(t, tc.script)
			r := p.Stop(300 * time.Millisecond)
			if r.Killed != tc.killed || r.AlreadyGone || r.ExitCode != tc.code || r.Took <= 0 {
				t.Errorf("Stop = %+v, want Killed %v, ExitCode %d", r, tc.killed, tc.code)
			}
			if again := p.Stop(time.Second); again.AlreadyGone || again.Killed || again.ExitCode != tc.code {
				t.Errorf("Stop again = %+v, want nothing to report and exit code %d", again, tc.code)
			}
		})
	}
}

// startPiped runs script under sh and returns once it has printed its
// first line, with that line: the traps it sets before are in place.
func startPiped(t *testing.T, script string) (*Process, string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	p, err := Start("sh", cmd, Options{BeforeWait: func() { <-read }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.KillGroup)
	sc := bufio.NewScanner(out)
	ok := sc.Scan()
	go func() { defer close(read); io.Copy(io.Discard, out) }()
	if !ok {
		t.Fatal("the script printed nothing")
	}
	return p, sc.Text()
}

func TestStopAfterOwnExit(t *testing.T) {
	p := start(t, "exit 2", Options{})
	p.WaitExit(10 * time.Second)
	if r := p.Stop(time.Second); !r.AlreadyGone || r.Killed || r.ExitCode != 2 {
		t.Errorf("Stop = %+v, want AlreadyGone with exit code 2", r)
	}
	if r := p.Stop(time.Second); r.AlreadyGone {
		t.Errorf("Stop again = %+v, want the exit reported once", r)
	}
}

func TestKillGroup(t *testing.T) {
	// The shell's own child must die with it: it is in the same group.
	p, line := startPiped(t, "sleep 60 & echo $!; wait")
	grandchild, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	p.KillGroup()
	if p.Alive() || p.Status() != "signal: killed" {
		t.Errorf("after KillGroup: %s, want killed", p.Status())
	}
	deadline := time.Now().Add(10 * time.Second)
	for !gone(grandchild) {
		if time.Now().After(deadline) {
			t.Fatalf("the shell's child %d outlived KillGroup", grandchild)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.KillGroup() // again: a no-op
}

// gone reports whether pid has ended: no longer in /proc, or a zombie
// waiting for init to reap it.
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestBeforeWait(t *testing.T) {
	release := make(chan struct{})
	p := start(t, "exit 0", Options{BeforeWait: func() { <-release }})
	if p.WaitExit(100 * time.Millisecond) {
		t.Fatal("waited for before BeforeWait returned")
	}
	close(release)
	if !p.WaitExit(10 * time.Second) {
		t.Fatal("not waited for after BeforeWait returned")
	}
}

func TestStartFails(t *testing.T) {
	_, err := Start("nothing", exec.Command("/nonexistent/program"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "start nothing: ") {
		t.Errorf("Start(missing program) = %v, want a start error", err)
	}
}
