//go:build linux

package main

import (
	"errors"
	"os/exec"
	"sync"
	"syscall"

	"ferrum/loadtest/proc"
)

// exitCode is p's exit code as a shell reports it once p has exited:
// 128+N for a death by signal N, -1 while it runs.
func exitCode(p *proc.Process) int {
	if p.Alive() {
		return -1
	}
	var ee *exec.ExitError
	switch err := p.Err(); {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		return -1
	}
}

// reaper is every child still running, so an experiment that returns
// early, a panic or a Ctrl-C still kills them all. Safe for concurrent use.
type reaper struct {
	mu   sync.Mutex
	live map[*proc.Process]bool // written under mu
}

func newReaper() *reaper { return &reaper{live: map[*proc.Process]bool{}} }

// start starts cmd in a process group of its own and tracks it until it is
// killed. beforeWait is as proc.Options says.
func (r *reaper) start(name string, cmd *exec.Cmd, beforeWait func()) (*proc.Process, error) {
	// The death signal also kills the child if the torture command dies
	// without running its cleanup (an unrecovered panic, a SIGKILL).
	p, err := proc.Start(name, cmd, proc.Options{DeathSignal: syscall.SIGKILL, BeforeWait: beforeWait})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.live[p] = true
	r.mu.Unlock()
	return p, nil
}

// killAll kills the process group of every child started through r and
// waits for them.
func (r *reaper) killAll() {
	r.mu.Lock()
	all := make([]*proc.Process, 0, len(r.live))
	for p := range r.live {
		all = append(all, p)
	}
	clear(r.live)
	r.mu.Unlock()
	for _, p := range all {
		p.KillGroup()
	}
}
