//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own. This system has
// no death signal: a child outlives a command that dies without stopping
// it.
func sysProcAttr(syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
