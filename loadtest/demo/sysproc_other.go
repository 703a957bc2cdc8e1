//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// detach does nothing where there are no process groups to manage.
func detach(*exec.Cmd) {}

// terminate stops ferrum; without SIGTERM there is no way to ask it to drain.
func terminate(p *os.Process) {
	p.Kill()
}

// notifyReload relays nothing: there is no SIGHUP to relay. (Notify with
// no signal would relay every signal.)
func notifyReload(chan<- os.Signal) {}

// reload fails: without SIGHUP there is no way to ask ferrum to reload.
func reload(*os.Process) error {
	return errors.New("reloading needs SIGHUP, which this system does not have")
}

// killGroup kills p.
func killGroup(p *os.Process) {
	p.Kill()
}
