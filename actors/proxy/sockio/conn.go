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
}

// Wrap returns c with direct reads and writes where they are available.
func Wrap(c net.Conn) *Conn {
	s := &Conn{Conn: c}
	s.raw.init(c)
	return s
}

// Read reads into p, as net.Conn's Read does.
func (s *Conn) Read(p []byte) (int, error) {
	if !s.raw.ok || len(p) == 0 {
		return s.Conn.Read(p)
	}
	return s.raw.read(s.Conn, p)
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

// opError gives a read's end of stream or failure the shape net.Conn's
// errors have.
func opError(c net.Conn, op string, err error) error {
	if err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
