//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// child is one process the torture command started. It runs in a process
// group of its own, so a Ctrl-C in the terminal reaches only the torture
// command, which then kills the group. Its waiting goroutine writes err
// and exitedAt and then closes done; nobody else writes them.
type child struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	exitedAt time.Time
}

// pid is the process id, which is also its process group id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports whether the process has not exited yet.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// exitCode is the process's exit code once it has exited: -1 while it
// runs, 128+N for a death by signal N.
func (c *child) exitCode() int {
	if c.alive() {
		return -1
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return 0
	case errors.As(c.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		return -1
	}
}

// describeExit says how the process ended, for a verdict.
func (c *child) describeExit() string {
	if c.alive() {
		return "still running"
	}
	if c.err == nil {
		return "exit status 0"
	}
	return c.err.Error()
}

// signal sends sig to the process alone (not its group).
func (c *child) signal(sig syscall.Signal) error {
	if !c.alive() {
		return fmt.Errorf("signal %s (pid %d): %w", c.name, c.pid(), os.ErrProcessDone)
	}
	return syscall.Kill(c.pid(), sig)
}

// waitExit waits up to d for the process to exit and reports whether it did.
func (c *child) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}

// kill sends SIGKILL to the process's group and waits for the process. It
// is safe to call more than once and after the process has exited.
func (c *child) kill() {
	if c.alive() {
		// The group id is the pid (Setpgid with Pgid 0); a group already
		// gone answers ESRCH, which is what we wanted anyway.
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	}
	<-c.done
}

// reaper is every child still running, so an experiment that returns
// early, a panic or a Ctrl-C still kills them all. Safe for concurrent use.
type reaper struct {
	mu   sync.Mutex
	live map[*child]bool // written under mu
}

func newReaper() *reaper { return &reaper{live: map[*child]bool{}} }

// start starts cmd in a process group of its own and tracks it until it is
// killed. beforeWait, if not nil, runs in the waiting goroutine before
// cmd.Wait: it must block until every read from cmd's pipes is done.
func (r *reaper) start(name string, cmd *exec.Cmd, beforeWait func()) (*child, error) {
	// Pdeathsig also kills the child if the torture command dies without
	// running its cleanup (an unrecovered panic, a SIGKILL).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	r.mu.Lock()
	r.live[c] = true
	r.mu.Unlock()
	go func() {
		if beforeWait != nil {
			beforeWait()
		}
		c.err = cmd.Wait()
		c.exitedAt = time.Now()
		close(c.done)
	}()
	return c, nil
}

// killAll kills every child started through r and waits for them.
func (r *reaper) killAll() {
	r.mu.Lock()
	all := make([]*child, 0, len(r.live))
	for c := range r.live {
		all = append(all, c)
	}
	clear(r.live)
	r.mu.Unlock()
	for _, c := range all {
		c.kill()
	}
}
