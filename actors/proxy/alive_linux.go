package proxy

import (
	"syscall"
	"time"
)

// initPeek prepares the liveness check once per connection.
func (pc *pconn) initPeek() {
	if sc, ok := pc.conn.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			pc.raw = raw
			pc.peekFn = pc.peek
		}
	}
}

// alive reports whether an idle pooled connection is still open: a peek that
// must not wait finds either nothing (open), or end of stream or stray bytes
// (closed by the backend, or out of step), in one system call.
func (pc *pconn) alive() bool {
	if pc.raw == nil {
		return true
	}
	pc.peekOpen = true
	// A deadline left from the last exchange would fail the read at once.
	_ = pc.conn.SetReadDeadline(time.Time{})
	if err := pc.raw.Read(pc.peekFn); err != nil {
		return false
	}
	return pc.peekOpen
}

func (pc *pconn) peek(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err != syscall.EAGAIN && (err != nil || n >= 0) {
		pc.peekOpen = false
	}
	return true
}
