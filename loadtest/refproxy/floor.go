package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The floor mode (-floor) is the least a Go proxy with one goroutine per
// client connection can do: read a head, pass it unchanged to the next
// backend on a kept connection, copy the answer back by its Content-Length.
// No parsing beyond finding the framing, no header rewriting, no timeouts
// beyond a connection's idle one, no retries, no health checks. Against it,
// the harness's `gofloor` target shows what the Go runtime and the kernel
// cost on the host, apart from everything ferrum does per request. Anything
// it does not handle (chunked bodies, 1xx answers, HEAD) gets a 502 and the
// connection closed.

// floorBuffer is each connection's buffer: a head must fit in it.
const floorBuffer = 16 << 10

var (
	errFloorHead    = errors.New("head too large or without Content-Length framing")
	errFloorBackend = errors.New("no backend connection")
)

// floor is the proxy: backends taken in turn, each with its idle
// connections, most recently used on top.
type floor struct {
	pools []*floorPool
	next  atomic.Uint64
}

type floorPool struct {
	addr string
	mu   sync.Mutex
	idle []*floorConn
}

// floorConn is one connection, client or backend, with its read buffer.
type floorConn struct {
	c   net.Conn
	buf []byte
	n   int // bytes in buf
}

func newFloor(backends []string) *floor {
	f := &floor{}
	for _, a := range backends {
		f.pools = append(f.pools, &floorPool{addr: a})
	}
	return f
}

func (p *floorPool) get() (*floorConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		fc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return fc, nil
	}
	p.mu.Unlock()
	c, err := net.DialTimeout("tcp", p.addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	return &floorConn{c: c, buf: make([]byte, floorBuffer)}, nil
}

func (p *floorPool) put(fc *floorConn) {
	p.mu.Lock()
	p.idle = append(p.idle, fc)
	p.mu.Unlock()
}

// serve accepts until ln is closed.
func (f *floor) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go f.client(&floorConn{c: c, buf: make([]byte, floorBuffer)})
	}
}

var healthAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n")

var badGateway = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// client serves one client connection until it closes or something the
// floor does not handle comes.
func (f *floor) client(cc *floorConn) {
	defer cc.c.Close()
	for {
		_ = cc.c.SetReadDeadline(time.Now().Add(idleTimeout))
		head, length, err := cc.readHead()
		if err != nil {
			if errors.Is(err, errFloorHead) {
				cc.c.Write(badGateway)
			}
			return
		}
		if bytes.HasPrefix(head, []byte("GET /health ")) {
			cc.consume(len(head))
			if _, err := cc.c.Write(healthAnswer); err != nil {
				return
			}
			continue
		}
		if err := f.forward(cc, head, length); err != nil {
			if errors.Is(err, errFloorBackend) || errors.Is(err, errFloorHead) {
				cc.c.Write(badGateway)
			}
			return
		}
	}
}

// forward sends the request whose head is buffered in cc to the next
// backend and copies the answer back.
func (f *floor) forward(cc *floorConn, head []byte, length int64) error {
	p := f.pools[(f.next.Add(1)-1)%uint64(len(f.pools))]
	bc, err := p.get()
	if err != nil {
		return errFloorBackend
	}
	if err := cc.copyMessage(bc.c, len(head), length); err != nil {
		bc.c.Close()
		return errFloorBackend
	}
	rhead, rlength, err := bc.readHead()
	if err != nil {
		bc.c.Close()
		if errors.Is(err, errFloorHead) {
			return err
		}
		return errFloorBackend
	}
	if err := bc.copyMessage(cc.c, len(rhead), rlength); err != nil {
		bc.c.Close()
		return err
	}
	p.put(bc)
	return nil
}

// readHead reads until a whole head is buffered and returns it with the
// Content-Length of its body (0 when there is none).
func (fc *floorConn) readHead() ([]byte, int64, error) {
	for {
		if end := bytes.Index(fc.buf[:fc.n], []byte("\r\n\r\n")); end >= 0 {
			head := fc.buf[:end+4]
			length, err := bodyLength(head)
			return head, length, err
		}
		if fc.n == len(fc.buf) {
			return nil, 0, errFloorHead
		}
		m, err := fc.c.Read(fc.buf[fc.n:])
		fc.n += m
		if err != nil {
			return nil, 0, err
		}
	}
}

// bodyLength finds the body's framing in head: a Content-Length, or none.
// Transfer-Encoding is more than the floor does.
func bodyLength(head []byte) (int64, error) {
	var length int64
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, errFloorHead
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || n < 0 {
				return 0, errFloorHead
			}
			length = n
		}
	}
	return length, nil
}

// copyMessage writes the buffered head (headLen bytes) and a body of
// length bytes, as much of it as is buffered first, to w.
func (fc *floorConn) copyMessage(w io.Writer, headLen int, length int64) error {
	have := min(int64(fc.n-headLen), length)
	msg := headLen + int(have)
	if _, err := w.Write(fc.buf[:msg]); err != nil {
		return err
	}
	fc.consume(msg)
	for left := length - have; left > 0; {
		m, err := fc.c.Read(fc.buf[:min(int64(len(fc.buf)), left)])
		if m > 0 {
			if _, werr := w.Write(fc.buf[:m]); werr != nil {
				return werr
			}
			left -= int64(m)
		}
		if err != nil && left > 0 {
			return err
		}
	}
	return nil
}

// consume drops the first n buffered bytes, keeping what follows them (a
// pipelined request).
func (fc *floorConn) consume(n int) {
	fc.n = copy(fc.buf, fc.buf[n:fc.n])
}

// runFloor serves ln in the floor mode until ctx ends; it returns the exit
// code. Connections still open then end with the process.
func runFloor(ctx context.Context, ln net.Listener, backends []*url.URL, stdout, stderr io.Writer) int {
	addrs := make([]string, len(backends))
	for i, u := range backends {
		if u.Scheme != "http" {
			fmt.Fprintf(stderr, "refproxy: -floor speaks plain HTTP only; %s is not http://\n", u)
			return 2
		}
		addrs[i] = u.Host
	}
	f := newFloor(addrs)
	served := make(chan error, 1)
	go func() { served <- f.serve(ln) }()
	fmt.Fprintf(stdout, "refproxy -floor listening on %s\n", ln.Addr())
	select {
	case err := <-served:
		fmt.Fprintln(stderr, "refproxy: serve:", err)
		return 1
	case <-ctx.Done():
	}
	ln.Close()
	<-served
	return 0
}
