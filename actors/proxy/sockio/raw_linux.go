package sockio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// maxIov bounds the pieces of one writev; longer lists go over several.
const maxIov = 8

// rawState is a connection's direct route: the raw connection, the
// functions handed to it (made once, so a call allocates nothing) and
// the arguments and results they pass through. A read and a write may run
// at once, so each side has fields of its own.
type rawState struct {
	ok      bool
	rc      syscall.RawConn
	readFn  func(fd uintptr) bool
	nowFn   func(fd uintptr) bool
	writeFn func(fd uintptr) bool

	p      []byte // the read's
	rn     int
	rerrno syscall.Errno
	empty  int  // reads that found nothing, for the tests
	none   bool // readNow's read found nothing

	// The write readAfterWrite makes inside the read: the read side's,
	// with iovecs of its own, so it never touches the write side's fields.
	pend    [][]byte
	pwn     int64
	pwerrno syscall.Errno
	piov    [maxIov]syscall.Iovec

	bufs   [][]byte // the write's
	wn     int64
	werrno syscall.Errno
	iov    [maxIov]syscall.Iovec
}

func (r *rawState) init(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	r.rc, r.ok = rc, true
	r.readFn, r.nowFn, r.writeFn = r.readOnce, r.readOnceNow, r.writeAll
}

func (r *rawState) read(c net.Conn, p []byte) (int, error) {
	r.p, r.rn, r.rerrno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.p = nil
	if err != nil {
		return 0, err // closed, or past the deadline: already a net.OpError
	}
	return r.readResult(c)
}

func (r *rawState) readResult(c net.Conn) (int, error) {
	switch {
	case r.rerrno != 0:
		return 0, opError(c, "read", os.NewSyscallError("read", r.rerrno))
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// readNow makes one read that does not wait: 0, nil when nothing is there.
// A closed connection or a passed deadline is left for the next read to
// report.
func (r *rawState) readNow(c net.Conn, p []byte) (int, error) {
	r.p, r.rn, r.rerrno, r.none = p, 0, 0, false
	err := r.rc.Read(r.nowFn)
	r.p = nil
	if err != nil || r.none {
		return 0, nil
	}
	return r.readResult(c)
}

// readOnceNow is readOnce that never asks the netpoller to wait.
func (r *rawState) readOnceNow(fd uintptr) bool {
	r.none = !r.readOnce(fd)
	return true
}

// readAfterWrite writes bufs, then reads into p. The netpoller is reset for
// the read before the write, so an answer arriving at any moment after the
// write wakes the read, and the read need not try first and find nothing.
func (r *rawState) readAfterWrite(c net.Conn, bufs [][]byte, p []byte) (n int, err error, wn int64, werr error) {
	r.pend, r.pwn, r.pwerrno = bufs, 0, 0
	r.p, r.rn, r.rerrno = p, 0, 0
	err = r.rc.Read(r.readFn)
	r.p = nil
	rest, wn, errno := r.pend, r.pwn, r.pwerrno
	r.pend = nil
	r.piov = [maxIov]syscall.Iovec{} // drop the pointers into the caller's buffers
	if errno != 0 {
		werr = opError(c, "write", os.NewSyscallError("writev", errno))
	}
	if len(rest) > 0 && errno == 0 {
		if err != nil {
			return 0, err, wn, err // closed or past the deadline before the write
		}
		// The socket had no room for all of it: finish the ordinary way,
		// under the write deadline, then read the ordinary way.
		m, werr := r.writev(c, rest)
		wn += m
		if werr != nil {
			return 0, werr, wn, werr
		}
		n, err = r.read(c, p)
		return n, err, wn, nil
	}
	if err != nil {
		return 0, err, wn, werr
	}
	n, err = r.readResult(c)
	return n, err, wn, werr
}

// readOnce makes one read; false asks the netpoller to wait for data. With
// a write pending (readAfterWrite), it makes that first: once all of it is
// out, no answer can be there yet, so it goes straight to waiting.
func (r *rawState) readOnce(fd uintptr) bool {
	if len(r.pend) > 0 && r.pwerrno == 0 {
		n, e := writevFd(fd, &r.pend, &r.piov)
		r.pwn += n
		switch {
		case e == syscall.EAGAIN:
			return true // readAfterWrite finishes the write
		case e != 0:
			// Failed: read at once, an answer may have come before it.
			r.pwerrno = e
			r.pend = nil
		default:
			return false
		}
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			r.empty++
			return false
		}
		r.rerrno = e
		return true
	}
}

func (r *rawState) writev(c net.Conn, bufs [][]byte) (int64, error) {
	r.bufs, r.wn, r.werrno = bufs, 0, 0
	err := r.rc.Write(r.writeFn)
	n := r.wn
	r.bufs = nil
	r.iov = [maxIov]syscall.Iovec{} // drop the pointers into the caller's buffers
	switch {
	case err != nil:
		return n, err
	case r.werrno != 0:
		return n, opError(c, "write", os.NewSyscallError("writev", r.werrno))
	}
	return n, nil
}

// writeAll writes until r.bufs is empty; false asks the netpoller to wait
// for room.
func (r *rawState) writeAll(fd uintptr) bool {
	n, e := writevFd(fd, &r.bufs, &r.iov)
	r.wn += n
	switch e {
	case 0:
		return true
	case syscall.EAGAIN:
		return false
	}
	r.werrno = e
	return true
}

// writevFd writes *bufs to fd through iov until all is written (errno 0),
// the socket is full (EAGAIN) or the write fails, cutting *bufs as it goes.
func writevFd(fd uintptr, bufs *[][]byte, iov *[maxIov]syscall.Iovec) (int64, syscall.Errno) {
	var done int64
	for {
		k := 0
		for _, b := range *bufs {
			if k == maxIov {
				break
			}
			if len(b) > 0 {
				iov[k].Base = &b[0]
				iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			return done, 0
		}
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		default:
			return done, e
		}
		done += int64(n)
		consume(bufs, int64(n))
	}
}

// consume drops n written bytes from the front of *bufs.
func consume(bufs *[][]byte, n int64) {
	b := *bufs
	for len(b) > 0 {
		if l := int64(len(b[0])); l <= n {
			n -= l
			b[0] = nil
			b = b[1:]
			continue
		}
		b[0] = b[0][n:]
		break
	}
	*bufs = b
}

// directSupported tells the tests a TCP connection takes the direct route.
const directSupported = true
