package sockio

import (
	"io"
	"net"
)

// Conn is a net.Conn whose Read, Write and Writev take the direct route
// where the platform and the connection allow it. A Conn is used by one
// goroutine at a time for reading and one for writing, like the connection
// it wraps; Close and the deadlines may be called from any goroutine.
type Conn struct {
	net.Conn
	raw rawState

	// A write queued by WriteOnRead, and what it came to.
	pend  [][]byte
	pwn   int64
	pwerr error
}

// Wrap returns c with direct reads and writes where they are available.
func Wrap(c net.Conn) *Conn {
	s := &Conn{Conn: c}
	s.raw.init(c)
	return s
}

// Read reads into p, as net.Conn's Read does, after making the write
// queued by WriteOnRead if there is one.
func (s *Conn) Read(p []byte) (int, error) {
	if s.pend != nil {
		bufs := s.pend
		s.pend = nil
		if s.raw.ok && len(p) > 0 {
			n, err, wn, werr := s.raw.readAfterWrite(s.Conn, bufs, p)
			s.pwn, s.pwerr = wn, werr
			return n, err
		}
		s.pwn, s.pwerr = s.Writev(bufs)
		// Read even after a failed write: an answer may have come first.
	}
	if !s.raw.ok || len(p) == 0 {
		return s.Conn.Read(p)
	}
	return s.raw.read(s.Conn, p)
}

// ReadNow reads into p only what has arrived already: it never waits.
// 0, nil means nothing is there now (or no direct read is available, or
// a write is queued by WriteOnRead, or the read deadline has passed: the
// next Read tells). A peer's end of stream is io.EOF, as from Read.
func (s *Conn) ReadNow(p []byte) (int, error) {
	if !s.raw.ok || len(p) == 0 || s.pend != nil {
		return 0, nil
	}
	return s.raw.readNow(s.Conn, p)
}

// Write writes p, as net.Conn's Write does.
func (s *Conn) Write(p []byte) (int, error) {
	if !s.raw.ok {
		return s.Conn.Write(p)
	}
	b := [1][]byte{p}
	n, err := s.raw.writev(s.Conn, b[:])
	return int(n), err
}

// Writev writes bufs in order, in one system call where they fit.
// bufs is consumed: its elements are cut as they are written.
func (s *Conn) Writev(bufs [][]byte) (int64, error) {
	if !s.raw.ok {
		nb := net.Buffers(bufs)
		return nb.WriteTo(s.Conn)
	}
	return s.raw.writev(s.Conn, bufs)
}

// WriteOnRead queues bufs to be written by the next Read, which then waits
// for the peer's answer without first trying a read that could only find
// nothing: on a request and answer connection that saves a system call per
// exchange. The write is made whole, under the write deadline if the socket
// has no room, and failing, the Read still reads (an answer may have come
// before the failure). WriteResult tells how the write went. bufs is
// consumed, as by Writev, and must stay unchanged until WriteResult.
func (s *Conn) WriteOnRead(bufs [][]byte) {
	s.pend, s.pwn, s.pwerr = bufs, 0, nil
}

// WriteResult reports what the write queued by WriteOnRead wrote and why it
// stopped short, making the write first if no Read has made it.
func (s *Conn) WriteResult() (int64, error) {
	if s.pend != nil {
		bufs := s.pend
		s.pend = nil
		s.pwn, s.pwerr = s.Writev(bufs)
	}
	return s.pwn, s.pwerr
}

// opError gives a read's end of stream or failure the shape net.Conn's
// errors have.
func opError(c net.Conn, op string, err error) error {
	if err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
