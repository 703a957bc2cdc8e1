package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferrum/proxyconf"
)

// connPool is one backend's keep-alive pool, owned by the request path: a
// request takes an idle connection (or dials one), writes its request and
// reads the response with net/http's own parser in its own goroutine, and
// gives the connection back once the response body is read to the end. No
// goroutine sits between the request and the socket.
type connPool struct {
	addr     string
	dialer   net.Dialer
	settings proxyconf.Upstream
	idle     chan *pconn // bounded by max_idle_conns_per_backend; full means close
	retired  atomic.Bool // no longer in the config: keep nothing idle
}

// idleTimeout closes pooled connections unused for longer; backends commonly
// close theirs after a minute or more, and a stale one costs a retry.
const idleTimeout = 50 * time.Second

// maxResponseHead bounds a response's status line and headers.
const maxResponseHead = 1 << 20

func newConnPool(addr string, u proxyconf.Upstream) *connPool {
	return &connPool{
		addr:     addr,
		dialer:   net.Dialer{Timeout: u.ConnectTimeout, KeepAlive: 30 * time.Second},
		settings: u,
		idle:     make(chan *pconn, u.MaxIdleConnsPerBackend),
	}
}

// pconn is one connection to a backend.
type pconn struct {
	conn   net.Conn
	lr     limitReader
	br     *bufio.Reader
	head   []byte        // request head buffer, reused by each exchange
	rw     requestWriter // reused by each exchange
	idleAt time.Time
	reused bool
	pool   *connPool
	// Per-connection values made once at dial, so each exchange and each
	// liveness check allocates nothing for them.
	expireFn func()
	raw      syscall.RawConn // nil where the platform gives none
	peekFn   func(fd uintptr) bool
	peekOpen bool // result of the last peek
}

// limitReader counts what the connection delivered and caps it while a
// response head is read; limit < 0 means no cap.
type limitReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.limit >= 0 {
		if l.n >= l.limit {
			return 0, errHeadTooLarge
		}
		p = p[:min(int64(len(p)), l.limit-l.n)]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

var errHeadTooLarge = errors.New("upstream response head too large")

func (p *connPool) get(ctx context.Context) (*pconn, error) {
	for {
		select {
		case pc := <-p.idle:
			if time.Since(pc.idleAt) < idleTimeout && pc.alive() {
				pc.reused = true
				return pc, nil
			}
			pc.conn.Close()
			continue
		default:
		}
		c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return nil, &errDial{err}
		}
		pc := &pconn{conn: c, pool: p}
		pc.expireFn = pc.expire
		pc.initPeek()
		pc.lr.r = c
		pc.lr.limit = -1
		pc.br = bufio.NewReaderSize(&pc.lr, 8<<10)
		return pc, nil
	}
}

// put returns a connection whose exchange ended cleanly.
func (p *connPool) put(pc *pconn) {
	pc.idleAt = time.Now()
	select {
	case p.idle <- pc:
	default:
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
	for {
		select {
		case pc := <-p.idle:
			pc.conn.Close()
		default:
			return
		}
	}
}

// upstreamRequest is what one attempt sends.
type upstreamRequest struct {
	method string
	target string // request-target, origin-form, as it goes on the wire
	host   string
	header http.Header
	body   io.Reader // nil for none
	length int64     // body length; -1: unknown, sent chunked
	replay []byte    // the whole body, when it can be sent again
	// upgrade: the client asked for a protocol switch, so a 101 opens a
	// tunnel; to any other request a 101 is an invalid response.
	upgrade bool
}

// errUnaskedUpgrade is a 101 answer to a request that did not ask for one.
var errUnaskedUpgrade = errors.New("101 Switching Protocols to a request without Upgrade")

// excluded are the headers the request line and framing decide.
var excluded = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Host": true, "Trailer": true, "Expect": true}

// headReq and getReq tell http.ReadResponse how to read a body; it only
// reads their Method. Shared, never modified.
var (
	headReq = &http.Request{Method: http.MethodHead}
	getReq  = &http.Request{Method: http.MethodGet}
)

// roundTrip sends ur and returns the response with its head read; the body
// streams from the connection, each read bounded by read_timeout. A reused
// connection the backend had already closed is replaced once, when nothing
// came back and the request can be sent again.
func (p *connPool) roundTrip(ctx context.Context, ur *upstreamRequest, canResend func() bool) (*http.Response, error) {
	for try := 0; ; try++ {
		pc, err := p.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := pc.exchange(ctx, ur)
		if err == nil {
			return resp, nil
		}
		pc.conn.Close()
		if pc.reused && try == 0 && pc.lr.n == 0 && ctx.Err() == nil && staleConn(err) && canResend() {
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

// exchange writes the request and reads the response head. ctx (the
// client's, bounded by total_timeout) governs this phase only: it ends the
// exchange by expiring the connection's deadlines. The body that follows is
// bounded by read_timeout on each read and by the client going away on each
// write.
func (pc *pconn) exchange(ctx context.Context, ur *upstreamRequest) (*http.Response, error) {
	stop := context.AfterFunc(ctx, pc.expireFn)
	readTimeout := pc.pool.settings.ReadTimeout
	pc.lr.n = 0
	var resp *http.Response
	err := pc.writeRequest(ur, readTimeout)
	var source *errBodySource
	switch {
	case err == nil:
		resp, err = pc.readHead(ur, readTimeout, true)
	case !errors.As(err, &source):
		// Writing failed: the backend may have answered early (and
		// closed); try to read it. A body the client failed to send
		// leaves nothing to wait for.
		var rerr error
		if resp, rerr = pc.readHead(ur, readTimeout, false); rerr == nil {
			err = nil
		}
	}
	if !stop() && err == nil {
		// ctx ended just as the head arrived: the deadlines are spoiled.
		resp.Body.Close()
		return nil, ctx.Err()
	}
	return resp, err
}

// expire makes every blocked read and write on the connection return.
func (pc *pconn) expire() { _ = pc.conn.SetDeadline(time.Unix(1, 0)) }

// writeRequest sends the request head and body. The head goes out with the
// first piece of the body in one writev, later pieces straight to the
// socket as they arrive from the client; nothing waits in a buffer.
func (pc *pconn) writeRequest(ur *upstreamRequest, timeout time.Duration) error {
	h := append(pc.head[:0], ur.method...)
	h = append(h, ' ')
	h = append(h, ur.target...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, ur.host...)
	h = append(h, "\r\n"...)
	aw := appendWriter{h}
	if err := ur.header.WriteSubset(&aw, excluded); err != nil {
		return err
	}
	h = aw.b
	w := &pc.rw
	*w = requestWriter{pc: pc, timeout: timeout}
	switch {
	case ur.body == nil:
		if ur.method == http.MethodPost || ur.method == http.MethodPut || ur.method == http.MethodPatch {
			h = append(h, "Content-Length: 0\r\n"...)
		}
		h = append(h, "\r\n"...)
		w.head = h
	case ur.length >= 0:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, ur.length, 10)
		h = append(h, "\r\n\r\n"...)
		w.head = h
		if err := copyBody(w, io.LimitReader(ur.body, ur.length), ur.length); err != nil {
			return err
		}
	default:
		h = append(h, "Transfer-Encoding: chunked\r\n\r\n"...)
		w.head, w.chunked = h, true
		if err := copyBody(w, ur.body, -1); err != nil {
			return err
		}
		w.chunked = false
		if _, err := w.Write([]byte("0\r\n\r\n")); err != nil {
			return err
		}
	}
	pc.head = h[:0]
	return w.flushHead()
}

// appendWriter collects what http.Header.WriteSubset writes.
type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// WriteString saves WriteSubset a conversion.
func (a *appendWriter) WriteString(s string) (int, error) {
	a.b = append(a.b, s...)
	return len(s), nil
}

// requestWriter writes a request to the socket: the pending head with the
// first piece, chunk framing when chunked, read_timeout for each write.
type requestWriter struct {
	pc      *pconn
	timeout time.Duration
	head    []byte // not sent yet; nil once it has gone
	chunked bool
	bufs    [4][]byte
	nb      net.Buffers // kept here so writev needs no allocation
	size    [20]byte
}

func (w *requestWriter) Write(p []byte) (int, error) {
	bufs := w.bufs[:0]
	if w.head != nil {
		bufs = append(bufs, w.head)
		w.head = nil
	}
	if w.chunked {
		n := strconv.AppendInt(w.size[:0], int64(len(p)), 16)
		bufs = append(bufs, append(n, '\r', '\n'), p, crlf)
	} else {
		bufs = append(bufs, p)
	}
	_ = w.pc.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	w.nb = bufs
	_, err := w.nb.WriteTo(w.pc.conn)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// flushHead sends the head when no body piece carried it.
func (w *requestWriter) flushHead() error {
	if w.head == nil {
		return nil
	}
	_ = w.pc.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.pc.conn.Write(w.head)
	w.head = nil
	return err
}

var crlf = []byte("\r\n")

// copyBody copies a request body through a pooled buffer; want >= 0 is the
// exact length to expect. A failure to read the body (the client's side)
// comes back as *errBodySource.
func copyBody(w io.Writer, r io.Reader, want int64) error {
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &errBodySource{rerr}
		}
	}
	if want >= 0 && n != want {
		return &errBodySource{io.ErrUnexpectedEOF}
	}
	return nil
}

// bodyBufPool holds the buffers request bodies are copied through: 64 KiB,
// so a typical upload crosses in one read and one write.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// errBodySource is a request body that could not be read to its end.
type errBodySource struct{ err error }

func (e *errBodySource) Error() string { return "read request body: " + e.err.Error() }
func (e *errBodySource) Unwrap() error { return e.err }

// readHead reads the response head, skipping interim 1xx answers (but not
// 101), within read_timeout. reusable is false when the connection must not
// go back to the pool whatever the response says.
func (pc *pconn) readHead(ur *upstreamRequest, timeout time.Duration, reusable bool) (*http.Response, error) {
	req := getReq
	if ur.method == http.MethodHead {
		req = headReq
	}
	_ = pc.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		pc.lr.limit = pc.lr.n + maxResponseHead
		resp, err := http.ReadResponse(pc.br, req)
		pc.lr.limit = -1
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				if !ur.upgrade {
					return nil, errUnaskedUpgrade
				}
				// A tunnel lives as long as its two sides want.
				_ = pc.conn.SetDeadline(time.Time{})
				resp.Body = &upgraded{pc: pc}
				return resp, nil
			}
			resp.Body = &upstreamBody{pc: pc, body: resp.Body, pause: timeout, keep: reusable && !resp.Close}
			return resp, nil
		}
	}
}

// upstreamBody is a response body read straight off the pooled connection.
// Each read must come within read_timeout; at the end the connection goes
// back to the pool when the exchange allows it.
type upstreamBody struct {
	pc    *pconn
	body  io.ReadCloser
	pause time.Duration
	keep  bool // the connection may be reused after this response
	done  bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	_ = b.pc.conn.SetReadDeadline(time.Now().Add(b.pause))
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(b.keep)
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = errBodyTimeout
		}
		b.finish(false)
	}
	return n, err
}

// pending reports whether more of the body is already buffered, so reading
// on will not wait on the backend.
func (b *upstreamBody) pending() bool { return !b.done && b.pc.br.Buffered() > 0 }

// Close ends the exchange; a body not read to its end leaves the connection
// unusable.
func (b *upstreamBody) Close() error {
	b.finish(false)
	return nil
}

func (b *upstreamBody) finish(reuse bool) {
	if b.done {
		return
	}
	b.done = true
	if reuse {
		_ = b.pc.conn.SetDeadline(time.Time{})
		b.pc.pool.put(b.pc)
		return
	}
	b.pc.conn.Close()
}

// upgraded is the connection after a 101: reads take what the response
// parser already buffered first.
type upgraded struct{ pc *pconn }

func (u *upgraded) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.pc.conn.Write(p) }

func (u *upgraded) Close() error { return u.pc.conn.Close() }

// SetDeadline bounds the tunnel's upstream side.
func (u *upgraded) SetDeadline(t time.Time) error { return u.pc.conn.SetDeadline(t) }

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
