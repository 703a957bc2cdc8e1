//go:build unix

// Package proc builds ferrum's programs for the load-test commands and
// runs the processes those commands start (ferrum, the backend program,
// nginx, HAProxy, wrk): each in a process group of its own, so that a
// Ctrl-C in the terminal reaches only the command, which then stops its
// children in its own order.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are the choices Start offers; the zero value is a process in a
// group of its own and nothing more.
type Options struct {
	// DeathSignal, if not 0, is sent to the process should the command
	// that started it die without stopping it (a test binary's timeout
	// panic, a SIGKILL). Only Linux has it; elsewhere it is ignored.
	DeathSignal syscall.Signal
	// BeforeWait, if not nil, runs in the waiting goroutine before
	// cmd.Wait. It must block until every read from cmd's pipes is done,
	// which Wait requires.
	BeforeWait func()
}

// Process is one started process. Its waiting goroutine writes err and
// then closes done; nobody else writes either. Its methods may be called
// from any goroutine.
type Process struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error
	// stopAsked is set by the first Stop, so a later one does not report
	// the exit that Stop itself caused as the process's own.
	stopAsked atomic.Bool
}

// Start starts cmd, which must not have been started, under name (for
// messages) in a process group of its own, and returns at once. The caller
// sets cmd's output before; Start sets cmd.SysProcAttr. Start owns a
// goroutine that waits for the process and ends with it.
func Start(name string, cmd *exec.Cmd, o Options) (*Process, error) {
	cmd.SysProcAttr = sysProcAttr(o.DeathSignal)
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		if o.BeforeWait != nil {
			o.BeforeWait()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Name is the name the process was started under.
func (p *Process) Name() string { return p.name }

// Pid is the process id, which is also its process group's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started is the time just before the process was started.
func (p *Process) Started() time.Time { return p.started }

// Done is closed once the process has ended and been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive reports whether the process has not ended yet.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited reports, without waiting, whether the process has ended, and how
// (as Status says).
func (p *Process) Exited() (bool, string) {
	if p.Alive() {
		return false, ""
	}
	return true, p.Status()
}

// Status says how the process ended, as the go command words it ("exit
// status 1", "signal: killed"), or "still running".
func (p *Process) Status() string {
	switch {
	case p.Alive():
		return "still running"
	case p.err == nil:
		return "exit status 0"
	default:
		return p.err.Error()
	}
}

// Err is what waiting for the process returned: nil while it runs or after
// exit status 0; an *exec.ExitError when it failed or a signal ended it,
// or the error of copying its output when Wait did that copying.
func (p *Process) Err() error {
	if p.Alive() {
		return nil
	}
	return p.err
}

// ExitCode is the process's exit status once it has ended; -1 while it
// runs and when a signal ended it.
func (p *Process) ExitCode() int {
	if p.Alive() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process alone (not its group) unless it has
// already ended.
func (p *Process) Signal(sig os.Signal) error {
	err := os.ErrProcessDone
	if p.Alive() {
		err = p.cmd.Process.Signal(sig)
	}
	switch {
	case errors.Is(err, os.ErrProcessDone):
		// Ended, or ending: Wait has reaped it or is about to.
		<-p.done
		return fmt.Errorf("signal %s (pid %d): already ended: %s", p.name, p.Pid(), p.Status())
	case err != nil:
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// WaitExit waits up to d for the process to end and reports whether it did.
func (p *Process) WaitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// StopResult is how a stopped process ended.
type StopResult struct {
	// ExitCode is the process's exit status; -1 when a signal ended it.
	ExitCode int
	// Took is the time from SIGTERM to the end of the process.
	Took time.Duration
	// Killed is set when the process outlived the grace period and was
	// sent SIGKILL. AlreadyGone is set when it had ended on its own before
	// the first Stop asked it to; later calls do not report that again.
	Killed, AlreadyGone bool
}

// Stop sends the process SIGTERM, waits up to grace, then sends SIGKILL
// and waits. It blocks until the process is gone, and may be called again
// afterwards. Only the process itself is signalled: a program that runs
// workers (nginx) stops them itself.
func (p *Process) Stop(grace time.Duration) StopResult {
	asked := p.stopAsked.Swap(true)
	if !p.Alive() {
		return StopResult{ExitCode: p.ExitCode(), AlreadyGone: !asked}
	}
	start := time.Now()
	// An error means the process has ended meanwhile, which the wait
	// below sees at once.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var r StopResult
	if !p.WaitExit(grace) {
		_ = p.cmd.Process.Kill()
		<-p.done
		r.Killed = true
	}
	r.Took = time.Since(start)
	r.ExitCode = p.ExitCode()
	return r
}

// KillGroup sends SIGKILL to the process's whole group, which takes any
// child it started along, and waits for the process. It may be called more
// than once and after the process has ended.
func (p *Process) KillGroup() {
	if p.Alive() {
		// A group already gone answers ESRCH, which is what we wanted.
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	}
	<-p.done
}
