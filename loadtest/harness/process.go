package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process may take to exit after SIGTERM before it
// is sent SIGKILL.
const stopGrace = 10 * time.Second

// proc is one process the harness started and must stop. Its waiting
// goroutine writes err and then closes done; nobody else writes either.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// stopping is set by stop before it signals, so an exit after it is
	// not reported as a crash. Only the harness's main goroutine touches it.
	stopping bool
}

// startProc starts cmd in a process group of its own, so a Ctrl-C in the
// terminal reaches only the harness, which then stops everything by PID in
// order. beforeWait, if not nil, runs in the waiting goroutine before
// Wait: it blocks until every read from cmd's pipes is done, which Wait
// requires.
func startProc(name string, cmd *exec.Cmd, beforeWait func()) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		if beforeWait != nil {
			beforeWait()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how, without waiting.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		if p.err == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits up to stopGrace, then sends SIGKILL and waits.
// It returns an error when the process had already exited on its own or
// had to be killed. stop blocks until the process is gone.
func (p *proc) stop() error {
	if gone, how := p.exited(); gone {
		if p.stopping {
			return nil
		}
		p.stopping = true
		return fmt.Errorf("%s (pid %d) had already exited: %v", p.name, p.pid(), how)
	}
	p.stopping = true
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s (pid %d): %w", p.name, p.pid(), err)
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) still running %v after SIGTERM; killed", p.name, p.pid(), stopGrace)
}

// procSet is every process the harness has running, so an early return or
// a signal still stops them all. Only the main goroutine uses it.
type procSet struct {
	live []*proc
}

func (s *procSet) add(p *proc) { s.live = append(s.live, p) }

// stop stops p and forgets it.
func (s *procSet) stop(p *proc) error {
	for i, q := range s.live {
		if q == p {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	return p.stop()
}

// stopAll stops every live process, the newest first, and reports each
// failure on w.
func (s *procSet) stopAll(w io.Writer) {
	for len(s.live) > 0 {
		p := s.live[len(s.live)-1]
		if err := s.stop(p); err != nil {
			fmt.Fprintln(w, "harness:", err)
		}
	}
}

// backendProc is a started backend and the address it listens on.
type backendProc struct {
	*proc
	addr string
}

// startBackend runs the backend binary on a free loopback port, which it
// reads back from the "backend <name> listening on <addr>" line. Later
// output goes to log.
func startBackend(bin string, spec backendSpec, log io.Writer) (*backendProc, error) {
	args := append([]string{"-listen", "127.0.0.1:0", "-name", spec.name}, spec.args...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start backend %s: %w", spec.name, err)
	}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	drain := func() {
		defer close(copied)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if _, addr, ok := strings.Cut(line, " listening on "); ok {
				select {
				case addrs <- addr:
				default:
				}
			}
			fmt.Fprintln(log, line)
		}
		io.Copy(log, out)
	}
	p, err := startProc("backend "+spec.name, cmd, func() { <-copied })
	if err != nil {
		return nil, err
	}
	go drain()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case addr := <-addrs:
		return &backendProc{proc: p, addr: addr}, nil
	case <-copied:
		p.stop()
		return nil, fmt.Errorf("backend %s ended its output without a listening line", spec.name)
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("backend %s printed no listening line within 10s", spec.name)
	}
}
