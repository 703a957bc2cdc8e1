//go:build !linux

package systemd

import "syscall"

// clockMonotonic has no systemd to serve outside Linux.
func clockMonotonic(ts *syscall.Timespec) error { return syscall.ENOSYS }
