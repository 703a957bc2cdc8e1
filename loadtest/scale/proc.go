package main

import (
	"os"
	"os/exec"
	"syscall"

	"ferrum/loadtest/proc"
)

// startProc starts cmd with its output in logFile. It is sent SIGTERM
// should the tool die without stopping it (a test binary's timeout panic,
// a SIGKILL).
func startProc(name string, cmd *exec.Cmd, logFile *os.File) (*proc.Process, error) {
	cmd.Stdout, cmd.Stderr = logFile, logFile
	return proc.Start(name, cmd, proc.Options{DeathSignal: syscall.SIGTERM})
}
