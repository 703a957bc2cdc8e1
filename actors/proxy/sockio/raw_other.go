//go:build !linux

package sockio

import "net"

// rawState is empty where no direct route is made: every call goes to the
// connection itself.
type rawState struct {
	ok    bool
	empty int // reads that found nothing: not counted here
}

func (r *rawState) init(net.Conn) {}

func (r *rawState) read(c net.Conn, p []byte) (int, error) { return c.Read(p) }

func (r *rawState) readNow(net.Conn, []byte) (int, error) { return 0, nil }

func (r *rawState) writev(c net.Conn, bufs [][]byte) (int64, error) {
	nb := net.Buffers(bufs)
	return nb.WriteTo(c)
}

func (r *rawState) readAfterWrite(c net.Conn, bufs [][]byte, p []byte) (int, error, int64, error) {
	nb := net.Buffers(bufs)
	wn, werr := nb.WriteTo(c)
	n, err := c.Read(p)
	return n, err, wn, werr
}

// directSupported tells the tests a TCP connection takes the direct route.
const directSupported = false
