package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"ferrum/actors/proxy/sockio"
	"ferrum/actors/proxy/wire"
	"ferrum/messages"
)

// A client connection's state, as Shutdown sees it.
const (
	connFresh  int32 = iota // accepted, first request not begun: its client is about to send it
	connIdle                // between requests (keep-alive): Shutdown may close it
	connActive              // serving a request: it closes itself after the answer
	connClosed              // closed by Shutdown
	connTunnel              // carrying a tunnel: drained with the tunnels, not the requests
)

// clientReadBuffer is the size of a client connection's read buffer: a
// typical request head arrives in one read. ReadHead grows it for a larger
// head, up to max_header_bytes, and shrinks it again after.
const clientReadBuffer = 4 << 10

// clientWriteStall bounds how long a write to a client may wait: a client
// that takes nothing of its answer for this long is cut off, so it cannot
// hold a backend connection for ever.
const clientWriteStall = 60 * time.Second

// clientConn is one client connection, served by one goroutine that owns
// every exchange on it from the first byte to the last: it reads the head
// into its own buffer, forwards the request on a pooled upstream connection
// in the same goroutine, and writes the answer. Only state and the watch
// fields (watch.go) are touched by other goroutines.
type clientConn struct {
	p        *Proxy
	c        *sockio.Conn
	rd       *wire.Reader
	req      wire.Request // the head being served; aliases rd's buffer
	r        request      // the request being served, reset for each
	state    atomic.Int32 // connIdle, connActive or connClosed
	accepted time.Time

	peer     netip.Addr // the TCP peer, unmapped
	peerText []byte     // peer as text, for X-Forwarded-For

	// ctx ends when the connection does, or when the watch sees the client
	// leave; picks and dials wait under it.
	ctx    context.Context
	cancel context.CancelFunc
	// reply is the channel route actors answer picks on, kept for the
	// connection's life (a retired actor's late answer is why it may be
	// replaced; see actors.Route.Pick).
	reply chan messages.PickReply

	// Buffers reused by every exchange on the connection.
	head  []byte // the client's answer head
	upReq []byte // the upstream request head, without Host and framing
	upOut []byte // one attempt's complete upstream request head
	idBuf []byte // the request id
	path  []byte // the normalized path and query, copied out of rd's buffer
	up    upHead
	upr   upRequest // the attempt in flight's request
	// Scratch for X-Forwarded-For: values joined (xff) or gathered (xffVals).
	xff     []byte
	xffVals [][]byte
	// wbufs is handed to writev; wbufArr backs it, since a write consumes
	// the slice it is given.
	wbufs   [][]byte
	wbufArr [4][]byte
	// chunkSize holds the size line of a chunk copyBody frames; a local
	// array would move to the heap once its slice is in wbufs.
	chunkSize [20]byte

	w    writePacer
	wait watch
}

// newClientConn prepares c for serving by p.
func newClientConn(p *Proxy, c net.Conn) *clientConn {
	cc := &clientConn{p: p, c: sockio.Wrap(c), accepted: time.Now(), reply: make(chan messages.PickReply, 1)}
	cc.rd = wire.NewReader(cc.c, clientReadBuffer)
	cc.ctx, cc.cancel = context.WithCancel(context.Background())
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		cc.peer = ap.Addr().Unmap()
	}
	cc.peerText = cc.peer.AppendTo(nil)
	cc.w = writePacer{c: cc.c}
	cc.wait.cc = cc
	return cc
}

// serve runs the connection's exchanges until one of them ends it.
func (cc *clientConn) serve() {
	defer cc.finish()
	for first := true; ; first = false {
		head, ok := cc.awaitRequest(first)
		if !ok {
			return
		}
		if !cc.exchange(head) {
			return
		}
	}
}

// finish closes the connection for good.
func (cc *clientConn) finish() {
	cc.wait.stop()
	cc.cancel()
	cc.c.Close()
}

// awaitRequest waits for the next request head: the first within
// client_header_timeout of the accept, later ones within idle_timeout of the
// last answer, each head within client_header_timeout of its first byte. It
// marks the connection active once a request has begun; false means close
// quietly (the client left, waited too long, or a drain closed it).
func (cc *clientConn) awaitRequest(first bool) ([]byte, bool) {
	s := &cc.p.listen.Server
	if first {
		_ = cc.c.SetReadDeadline(cc.accepted.Add(s.ClientHeaderTimeout))
	}
	if cc.rd.Buffered() == 0 {
		if !first {
			cc.state.Store(connIdle)
			if cc.p.draining.Load() && cc.p.listenerClosed.Load() {
				return nil, false
			}
			_ = cc.c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		if _, err := cc.rd.Peek(1); err != nil {
			return nil, false
		}
		if !first && !cc.headBuffered() {
			// The head began but has not all come: the rest must come
			// within client_header_timeout. (When it came whole, as it
			// mostly does, there is no deadline to move.)
			_ = cc.c.SetReadDeadline(time.Now().Add(s.ClientHeaderTimeout))
		}
	} else if !first {
		// Bytes left from a pipelined request, or the watch's deadline.
		_ = cc.c.SetReadDeadline(time.Now().Add(s.ClientHeaderTimeout))
	}
	if !cc.state.CompareAndSwap(connIdle, connActive) && !cc.state.CompareAndSwap(connFresh, connActive) &&
		cc.state.Load() != connActive {
		return nil, false // Shutdown closed it
	}
	head, err := cc.rd.ReadHead(s.MaxHeaderBytes)
	if err != nil {
		if errors.Is(err, wire.ErrHeadTooLarge) {
			cc.reject(methodOf(cc.rd), wire.ErrHeadTooLarge)
		}
		return nil, false
	}
	return head, true
}

// headBuffered reports whether a whole request head is already buffered,
// so reading it will not wait on the client.
func (cc *clientConn) headBuffered() bool {
	b, _ := cc.rd.Peek(cc.rd.Buffered())
	return bytes.Contains(b, headEnd)
}

var headEnd = []byte("\r\n\r\n")

// methodOf guesses the method of a head that could not be read whole, for
// counting its rejection: the standard method the buffered bytes start
// with, else OTHER.
func methodOf(rd *wire.Reader) int {
	b, _ := rd.Peek(min(rd.Buffered(), 8))
	for i, m := range methods[:len(methods)-1] {
		if len(b) > len(m) && string(b[:len(m)]) == m && b[len(m)] == ' ' {
			return i
		}
	}
	return len(methods) - 1
}

// reject answers a request ferrum could not parse with the error's status
// and closes: nothing after it on the connection can be trusted.
func (cc *clientConn) reject(method int, err error) {
	status := 400
	var we *wire.Error
	if errors.As(err, &we) {
		status = we.Status
	}
	kind := KindBadRequest
	if status == 431 {
		kind = KindRequestTooLarge
	}
	cc.r.head = false // whatever the last request was: this answer has a body
	cc.idBuf = appendNewID(cc.idBuf[:0])
	cc.writeOwn(status, true)
	t := cc.p.table.Load()
	t.none.request(method, status, time.Since(cc.accepted).Seconds(), kind)
}

// writePacer bounds each write to the client by clientWriteStall, moving
// the deadline only when it has worn down by an eighth, so a stream of
// writes does not pay for a deadline change each.
type writePacer struct {
	c   net.Conn
	set time.Time // when the deadline was last moved
}

func (w *writePacer) arm() {
	now := time.Now()
	if now.Sub(w.set) > clientWriteStall/8 {
		_ = w.c.SetWriteDeadline(now.Add(clientWriteStall))
		w.set = now
	}
}

// write sends b to the client.
func (cc *clientConn) write(b []byte) error {
	cc.w.arm()
	if _, err := cc.c.Write(b); err != nil {
		return &clientWriteError{err}
	}
	return nil
}

// writev sends bufs to the client in one system call where it can.
func (cc *clientConn) writev(bufs ...[]byte) error {
	cc.w.arm()
	cc.wbufs = append(cc.wbufArr[:0], bufs...)
	if _, err := cc.c.Writev(cc.wbufs); err != nil {
		return &clientWriteError{err}
	}
	return nil
}
