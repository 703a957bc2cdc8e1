package proxy

import (
	"net"
	"syscall"
)

// alive reports whether an idle pooled connection is still open: a peek that
// must not wait finds either nothing (open), or end of stream or stray bytes
// (closed by the backend, or out of step), in one system call.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	open := true
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN:
		case rerr != nil || n >= 0:
			open = false
		}
		return true
	})
	return err == nil && open
}
