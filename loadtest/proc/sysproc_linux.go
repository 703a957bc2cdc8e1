package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own and, when
// deathSignal is not 0, has the kernel send it deathSignal should the
// command die first.
func sysProcAttr(deathSignal syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal}
}
