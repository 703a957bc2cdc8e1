//go:build unix

package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// detach puts a child (ferrum, or the build) in a process group of its own.
// A Ctrl-C in the terminal then reaches only the demo, which forwards
// exactly one SIGTERM to ferrum; otherwise ferrum would see the terminal's
// SIGINT and the forwarded SIGTERM as two signals, and exit at once instead
// of draining. A terminal's SIGHUP likewise reaches only the demo.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks ferrum to drain and exit.
func terminate(p *os.Process) {
	p.Signal(syscall.SIGTERM)
}

// notifyReload relays SIGHUP to ch.
func notifyReload(ch chan<- os.Signal) {
	signal.Notify(ch, syscall.SIGHUP)
}

// reload asks ferrum to re-read its config file. Send it only once ferrum
// answers /health: it catches SIGHUP from then on, and dies of it before.
func reload(p *os.Process) error {
	return p.Signal(syscall.SIGHUP)
}

// killGroup kills p and every process in its group, which p leads (see
// detach): the go command and the compilers it runs.
func killGroup(p *os.Process) {
	if syscall.Kill(-p.Pid, syscall.SIGKILL) != nil {
		p.Kill()
	}
}
