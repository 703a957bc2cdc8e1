//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// detach does nothing where there are no process groups to manage.
func detach(*exec.Cmd) {}

// terminate stops ferrum; without SIGTERM there is no way to ask it to drain.
func terminate(p *os.Process) {
	p.Kill()
}
