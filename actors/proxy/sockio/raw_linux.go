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
	writeFn func(fd uintptr) bool

	p      []byte // the read's
	rn     int
	rerrno syscall.Errno

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
	r.readFn, r.writeFn = r.readOnce, r.writeAll
}

func (r *rawState) read(c net.Conn, p []byte) (int, error) {
	r.p, r.rn, r.rerrno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.p = nil
	switch {
	case err != nil:
		return 0, err // closed, or past the deadline: already a net.OpError
	case r.rerrno != 0:
		return 0, opError(c, "read", os.NewSyscallError("read", r.rerrno))
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// readOnce makes one read; false asks the netpoller to wait for data.
func (r *rawState) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
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
	for {
		k := 0
		for _, b := range r.bufs {
			if k == maxIov {
				break
			}
			if len(b) > 0 {
				r.iov[k].Base = &b[0]
				r.iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			return true
		}
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(k))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.werrno = e
			return true
		}
		r.wn += int64(n)
		r.consume(int64(n))
	}
}

// consume drops n written bytes from the front of r.bufs.
func (r *rawState) consume(n int64) {
	for len(r.bufs) > 0 {
		if l := int64(len(r.bufs[0])); l <= n {
			n -= l
			r.bufs[0] = nil
			r.bufs = r.bufs[1:]
			continue
		}
		r.bufs[0] = r.bufs[0][n:]
		return
	}
}

// directSupported tells the tests a TCP connection takes the direct route.
const directSupported = true
