package main

import (
	"fmt"
	"io"
	"os/exec"
	"time"

	"ferrum/loadtest/proc"
)

// stopGrace is how long a process may take to exit after SIGTERM before it
// is sent SIGKILL.
const stopGrace = 10 * time.Second

// stopProc sends p SIGTERM, waits up to stopGrace, then sends SIGKILL and
// waits. It returns an error when p had already exited on its own or had
// to be killed. stop blocks until p is gone.
func stopProc(p *proc.Process) error {
	r := p.Stop(stopGrace)
	switch {
	case r.AlreadyGone:
		return fmt.Errorf("%s (pid %d) had already exited: %s", p.Name(), p.Pid(), p.Status())
	case r.Killed:
		return fmt.Errorf("%s (pid %d) still running %v after SIGTERM; killed", p.Name(), p.Pid(), stopGrace)
	}
	return nil
}

// procSet is every process the harness has running, so an early return or
// a signal still stops them all. Only the main goroutine uses it.
type procSet struct {
	live []*proc.Process
}

func (s *procSet) add(p *proc.Process) { s.live = append(s.live, p) }

// stop stops p and forgets it.
func (s *procSet) stop(p *proc.Process) error {
	for i, q := range s.live {
		if q == p {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	return stopProc(p)
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
	*proc.Process
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
		proc.CopyListening(out, log, addrs)
	}
	p, err := proc.Start("backend "+spec.name, cmd, proc.Options{BeforeWait: func() { <-copied }})
	if err != nil {
		return nil, err
	}
	go drain()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case addr := <-addrs:
		return &backendProc{Process: p, addr: addr}, nil
	case <-copied:
		stopProc(p)
		return nil, fmt.Errorf("backend %s ended its output without a listening line", spec.name)
	case <-t.C:
		stopProc(p)
		return nil, fmt.Errorf("backend %s printed no listening line within 10s", spec.name)
	}
}
