package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferrum/actors/proxy/sockio"
	"ferrum/actors/proxy/wire"
	"ferrum/proxyconf"
)

// upstreamReadBuffer is an upstream connection's read buffer: a typical
// response head and a small body arrive in one read.
const upstreamReadBuffer = 8 << 10

// maxResponseHead bounds a response's status line and fields.
const maxResponseHead = 1 << 20

// connPool is one backend's keep-alive pool, used by the request path
// directly: a request takes an idle connection (or dials one), writes its
// request and reads the answer in its own goroutine, and gives the
// connection back once the answer's body has been read to its end. No
// goroutine sits between a request and the socket; the janitor
// (janitor.go) closes idle connections that aged or that the backend closed.
type connPool struct {
	addr     string
	dialer   net.Dialer
	settings proxyconf.Upstream
	idle     idleStack
	retired  atomic.Bool // no longer in the config: keep nothing idle
}

func newConnPool(addr string, u proxyconf.Upstream) *connPool {
	return &connPool{
		addr:     addr,
		dialer:   net.Dialer{Timeout: u.ConnectTimeout, KeepAlive: 30 * time.Second},
		settings: u,
		idle:     idleStack{conns: make([]*pconn, 0, max(u.MaxIdleConnsPerBackend, 0))},
	}
}

// pconn is one connection to a backend and the exchange it carries.
type pconn struct {
	conn   *sockio.Conn
	rd     *wire.Reader
	resp   wire.Response // the answer being read; aliases rd's buffer
	chunk  wire.ChunkedReader
	pool   *connPool
	idleAt time.Time
	reused bool

	// The answer's body, as Read delivers it.
	kind  wire.BodyKind
	left  int64 // bytes left of a BodyLength body
	keep  bool  // the connection may carry another request after this one
	done  bool  // the body ended (or the exchange failed)
	pause time.Duration
	setAt time.Time // when the read deadline was last moved

	wbufs   [][]byte
	wbufArr [4][]byte
	size    [20]byte

	// Liveness check of an idle connection (alive_*.go), prepared once.
	raw      syscall.RawConn
	peekFn   func(fd uintptr) bool
	peekOpen bool
	expireFn func()

	// user is the watch of the request using the connection, told before
	// the connection is put back or closed; nil while idle.
	user *watch
}

// get takes an idle connection, or dials a new one under ctx. With check,
// an idle one is first made sure to be open (one system call): for a
// request that could not be sent again should the backend have closed it.
// A request that can be sent again skips the check and is resent on a new
// connection instead; the janitor weeds out the rest.
func (p *connPool) get(ctx context.Context, check bool) (*pconn, error) {
	for {
		if pc := p.idle.pop(); pc != nil {
			if time.Since(pc.idleAt) < p.settings.IdleConnTimeout && (!check || pc.alive()) {
				pc.reused = true
				return pc, nil
			}
			pc.conn.Close()
			continue
		}
		c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return nil, &dialError{err}
		}
		sc := sockio.Wrap(c)
		pc := &pconn{conn: sc, pool: p, rd: wire.NewReader(sc, upstreamReadBuffer), pause: p.settings.ReadTimeout}
		pc.expireFn = pc.expire
		pc.initPeek()
		return pc, nil
	}
}

// put returns a connection whose exchange ended cleanly.
func (p *connPool) put(pc *pconn) {
	pc.idleAt = time.Now()
	if !p.idle.push(pc) {
		pc.conn.Close()
	}
	// Checked after the push: either retire's sweep finds this connection,
	// or this sees retired and sweeps.
	if p.retired.Load() {
		p.closeIdle()
	}
}

// retire closes the pool's idle connections and every one returned later:
// the config no longer has this pool.
func (p *connPool) retire() {
	p.retired.Store(true)
	p.closeIdle()
}

// closeIdle closes every idle connection.
func (p *connPool) closeIdle() {
	for _, pc := range p.idle.takeAll() {
		pc.conn.Close()
	}
}

// upRequest is what one attempt sends.
type upRequest struct {
	head     []byte    // the complete head
	body     io.Reader // nil for none
	length   int64     // body length; -1: unknown, sent chunked
	replay   []byte    // the whole body, when it can be sent again
	isHead   bool      // a HEAD request: its answer has no body
	upgrade  bool      // a 101 opens a tunnel; to any other request it is invalid
	deadline time.Time // total_timeout: bounds the attempt until the answer's head
	// total is total_timeout itself: a body streamed from the client
	// takes as long as the client takes (client_body_timeout and
	// client_body_min_rate bound that), so once it has been sent the
	// wait for the answer gets total_timeout afresh, if that is later.
	total time.Duration
}

// roundTrip sends ur and returns the connection with the answer's head read
// into pc.resp; the body is read with pc.Read. A reused connection the
// backend had already closed is replaced once, when nothing came back and
// the request can be sent again (canResend).
func (p *connPool) roundTrip(cc *clientConn, ur *upRequest, canResend bool) (*pconn, error) {
	for try := 0; ; try++ {
		pc, err := p.get(cc.ctx, !canResend)
		if err != nil {
			return nil, err
		}
		pc.done = false // ours now, until finish
		pc.user = &cc.wait
		pc.user.use(pc)
		got, err := pc.exchangeHead(cc, ur)
		if err == nil {
			return pc, nil
		}
		pc.finish(false)
		if pc.reused && try == 0 && !got && !cc.wait.gone.Load() && time.Now().Before(ur.deadline) &&
			staleConn(err) && canResend {
			if ur.replay != nil {
				ur.body = bytesReader(ur.replay)
			}
			continue
		}
		return nil, err
	}
}

// staleConn reports errors that mean a kept-alive connection had been closed
// by the backend before this request got there.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// exchangeHead writes the request and reads the answer's head, skipping
// interim 1xx answers (but not 101). got reports whether any byte came
// back. Writing is bounded by read_timeout per write, reading the head by
// read_timeout, and both by the attempt's deadline.
func (pc *pconn) exchangeHead(cc *clientConn, ur *upRequest) (got bool, err error) {
	now := time.Now()
	var werr error
	onRead := pc.sendOnRead(ur, now)
	if !onRead {
		werr = pc.writeRequest(cc, ur)
		if werr != nil && fromBodySource(werr) {
			return false, werr // the client's fault: nothing to wait for
		}
		now = time.Now()
	}
	// The head must come within read_timeout (and the attempt's deadline);
	// first, though, the read waits watchDelay only: a backend slower than
	// that gets the client watched, then the rest of the wait.
	limit := earliest(now.Add(pc.pause), ur.deadline)
	_ = pc.conn.SetReadDeadline(earliest(now.Add(watchDelay), limit))
	for {
		head, err := pc.rd.ReadHead(maxResponseHead)
		if onRead {
			_, werr = pc.conn.WriteResult()
			onRead = false
		}
		if err != nil && isTimeout(err) && time.Now().Before(limit) && !cc.wait.gone.Load() {
			cc.wait.start()
			_ = pc.conn.SetReadDeadline(limit)
			continue
		}
		got = got || len(head) > 0 || pc.rd.Buffered() > 0
		if err != nil {
			if werr != nil {
				return got, werr
			}
			return got, err
		}
		if err := wire.ParseResponse(head, ur.isHead, &pc.resp); err != nil {
			return true, err
		}
		if pc.resp.Interim() {
			continue
		}
		break
	}
	resp := &pc.resp
	if resp.Status == 101 {
		if !ur.upgrade {
			return true, errUnaskedUpgrade
		}
		// A tunnel lives as long as its two sides want.
		_ = pc.conn.SetDeadline(time.Time{})
		pc.done, pc.keep = true, false
		return true, nil
	}
	pc.kind, pc.left, pc.done = resp.Body, resp.ContentLength, false
	// The backend may have answered before it read the whole request
	// (and closed): such an answer stands, but the connection is done.
	pc.keep = werr == nil && !resp.Close
	pc.setAt = time.Time{}
	if pc.kind == wire.BodyChunked {
		pc.chunk.Reset(pc.rd)
	}
	return true, nil
}

// sendOnRead queues a small bodiless request to be written by the read of
// its answer, which then waits for the answer without first trying a read
// that could only find nothing (one system call fewer per exchange). It
// does so on a connection that was idle only briefly: one the backend
// closed while it sat in the pool would otherwise be noticed only when the
// backend's reset to the write arrives, not by a read finding its end.
func (pc *pconn) sendOnRead(ur *upRequest, now time.Time) bool {
	if ur.body != nil || len(ur.head) > maxUnboundedWrite || pc.rd.Buffered() > 0 ||
		pc.reused && now.Sub(pc.idleAt) > briefIdle {
		return false
	}
	pc.wbufs = append(pc.wbufArr[:0], ur.head)
	pc.conn.WriteOnRead(pc.wbufs)
	return true
}

// briefIdle is how long a pooled connection may have been idle and still
// carry a request written by the read of its answer.
const briefIdle = time.Second

// earliest returns the earlier of two times, a zero b counting as never.
func earliest(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// writeRequest sends the head and the body: the head with the first piece
// of the body in one writev, later pieces straight to the socket as they
// arrive from the client; nothing waits in a buffer. A failure to read the
// body from the client comes back as *bodySourceError.
func (pc *pconn) writeRequest(cc *clientConn, ur *upRequest) error {
	if ur.body == nil && len(ur.head) <= maxUnboundedWrite {
		// A head this small goes into the socket's buffer without
		// waiting: no deadline to set.
		return pc.writev(ur.head)
	}
	dl := earliest(time.Now().Add(pc.pause), ur.deadline)
	_ = pc.conn.SetWriteDeadline(dl)
	switch {
	case ur.body == nil:
		return pc.writev(ur.head)
	case ur.replay != nil && ur.length >= 0:
		return pc.writev(ur.head, ur.replay)
	}
	// The body streams at the client's pace: each write waits at most
	// read_timeout, and the client's own limits bound the rest.
	dl = time.Now().Add(pc.pause)
	_ = pc.conn.SetWriteDeadline(dl)
	defer func() {
		if later := time.Now().Add(ur.total); later.After(ur.deadline) {
			ur.deadline = later
		}
	}()
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	buf := *bp
	head := ur.head
	chunked := ur.length < 0
	var sent int64
	for {
		n, rerr := ur.body.Read(buf)
		if n > 0 {
			var err error
			if chunked {
				size := strconv.AppendInt(pc.size[:0], int64(n), 16)
				size = append(size, '\r', '\n')
				err = pc.writev(head, size, buf[:n], crlf)
			} else {
				err = pc.writev(head, buf[:n])
			}
			if err != nil {
				return err
			}
			head = nil
			sent += int64(n)
			// A slow client must not leave the write deadline behind.
			if now := time.Now(); dl.Sub(now) < pc.pause/2 {
				dl = now.Add(pc.pause)
				_ = pc.conn.SetWriteDeadline(dl)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &bodySourceError{rerr}
		}
	}
	if !chunked && sent != ur.length {
		return &bodySourceError{io.ErrUnexpectedEOF}
	}
	switch {
	case chunked:
		return pc.writev(head, lastChunk)
	case head != nil:
		return pc.writev(head)
	}
	return nil
}

// maxUnboundedWrite is the largest request written without a write
// deadline: far below any socket send buffer, so the write never waits.
const maxUnboundedWrite = 16 << 10

// lastChunk ends a chunked body, with no trailers.
var lastChunk = []byte("0\r\n\r\n")

// writev writes bufs to the backend in one system call where it can.
func (pc *pconn) writev(bufs ...[]byte) error {
	pc.wbufs = append(pc.wbufArr[:0], bufs...)
	_, err := pc.conn.Writev(pc.wbufs)
	return err
}

// bodyBufPool holds the buffers request bodies are copied through: 64 KiB,
// so a typical upload crosses in one read and one write.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Read reads the answer's body. Each read must come within read_timeout of
// the last (errUpstreamStalled otherwise); at the end the connection goes
// back to the pool when the exchange allows it, so the answer's head
// (pc.resp) must not be used once Read returned io.EOF. A body cut short
// gives io.ErrUnexpectedEOF.
func (pc *pconn) Read(p []byte) (int, error) {
	if pc.done {
		return 0, io.EOF
	}
	if pc.kind == wire.BodyNone || pc.kind == wire.BodyLength && pc.left <= 0 {
		pc.finish(pc.keep)
		return 0, io.EOF
	}
	if pc.rd.Buffered() == 0 {
		pc.armRead()
	}
	var n int
	var err error
	switch pc.kind {
	case wire.BodyLength:
		if int64(len(p)) > pc.left {
			p = p[:pc.left]
		}
		n, err = pc.rd.Read(p)
		pc.left -= int64(n)
		switch {
		case pc.left == 0:
			pc.finish(pc.keep)
			return n, io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	case wire.BodyChunked:
		n, err = pc.chunk.Read(p)
		if err == io.EOF {
			pc.finish(pc.keep)
			return n, io.EOF
		}
	default:
		n, err = pc.rd.Read(p)
		if err == io.EOF {
			pc.finish(false)
			return n, io.EOF
		}
	}
	if err != nil {
		if isTimeout(err) {
			err = errUpstreamStalled
		}
		pc.finish(false)
	}
	return n, err
}

// armRead moves the read deadline to read_timeout from now when it has
// worn down by an eighth: a pause is cut after at least 7/8 of read_timeout
// and at most all of it, and a fast body moves the deadline rarely.
func (pc *pconn) armRead() {
	now := time.Now()
	if now.Sub(pc.setAt) > pc.pause/8 {
		_ = pc.conn.SetReadDeadline(now.Add(pc.pause))
		pc.setAt = now
	}
}

// Close ends the exchange; a body not read to its end leaves the connection
// unusable.
func (pc *pconn) Close() error {
	pc.finish(false)
	return nil
}

func (pc *pconn) finish(reuse bool) {
	if pc.done {
		return
	}
	pc.done = true
	if pc.user != nil {
		pc.user.use(nil)
		pc.user = nil
	}
	if reuse {
		pc.pool.put(pc)
		return
	}
	pc.conn.Close()
}

// expire makes every blocked read and write on the connection return.
func (pc *pconn) expire() { _ = pc.conn.SetDeadline(aLongTimeAgo) }

// bytesReader returns a reader over b.
func bytesReader(b []byte) io.Reader {
	return &sliceReader{b: b}
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}
