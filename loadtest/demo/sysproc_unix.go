//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// detach puts ferrum in a process group of its own. A Ctrl-C in the
// terminal then reaches only the demo, which forwards exactly one SIGTERM;
// otherwise ferrum would see the terminal's SIGINT and the forwarded SIGTERM
// as two signals, and exit at once instead of draining.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks ferrum to drain and exit.
func terminate(p *os.Process) {
	p.Signal(syscall.SIGTERM)
}
