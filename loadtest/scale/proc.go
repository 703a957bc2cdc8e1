package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is one process the tool started and must stop. Its waiting
// goroutine writes state and then closes done; nobody else writes either.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time // just before the process was started
	done    chan struct{}
	state   *os.ProcessState
}

// startProc starts cmd with its output in logFile. The process gets a
// process group of its own, so a Ctrl-C in the terminal reaches only the
// tool, which then stops it in order; and it is sent SIGTERM should the
// tool die without stopping it (a test binary's timeout panic, a SIGKILL).
func startProc(name string, cmd *exec.Cmd, logFile *os.File) (*proc, error) {
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		// Wait's error only repeats what the state says: the output goes
		// to a file, so there is no copying to fail.
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports, without waiting, whether the process has ended, and how.
func (p *proc) exited() (bool, string) {
	select {
	case <-p.done:
		return true, p.state.String()
	default:
		return false, ""
	}
}

// signal sends sig to the process unless it has already ended.
func (p *proc) signal(sig os.Signal) error {
	if gone, how := p.exited(); gone {
		return fmt.Errorf("signal %s (pid %d): already ended: %s", p.name, p.pid(), how)
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid(), err)
	}
	return nil
}

// stopResult is how a stopped process ended.
type stopResult struct {
	// exitCode is the process's exit status; -1 when a signal ended it.
	exitCode int
	// took is the time from SIGTERM to the end of the process.
	took time.Duration
	// killed is set when the process outlived the grace period and was
	// sent SIGKILL; alreadyGone when it had ended before it was asked to.
	killed, alreadyGone bool
}

// stop sends SIGTERM, waits up to grace, then sends SIGKILL and waits. It
// blocks until the process is gone, and may be called again afterwards.
func (p *proc) stop(grace time.Duration) stopResult {
	if gone, _ := p.exited(); gone {
		return stopResult{exitCode: p.state.ExitCode(), alreadyGone: true}
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	r := stopResult{}
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		r.killed = true
	}
	r.took = time.Since(start)
	r.exitCode = p.state.ExitCode()
	return r
}
