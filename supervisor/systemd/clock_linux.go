package systemd

import (
	"syscall"
	"unsafe"
)

// clockMonotonic reads CLOCK_MONOTONIC, the clock systemd's MONOTONIC_USEC
// is on (Go's time package keeps its monotonic reading to itself).
func clockMonotonic(ts *syscall.Timespec) error {
	const clockMonotonicID = 1
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonicID, uintptr(unsafe.Pointer(ts)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
