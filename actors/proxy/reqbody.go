package proxy

import (
	"errors"
	"io"
	"time"

	"ferrum/actors/proxy/wire"
)

// minRateGrace is how long a request body may take before
// server.client_body_min_rate applies, as Kestrel does.
const minRateGrace = 5 * time.Second

// continueLine invites a client that sent Expect: 100-continue to send its
// body.
var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// reqBody is the request body as the backend reads it, straight off the
// client connection's reader: Content-Length or chunked framing, at most
// max_request_body_bytes, each pause at most client_body_timeout, and on
// average at least client_body_min_rate bytes a second once minRateGrace
// has passed. It remembers the first error the client caused, so that
// failure is never charged to a backend.
type reqBody struct {
	cc      *clientConn
	length  int64 // declared length; -1 for a chunked body; 0 for none
	left    int64 // bytes of a length body still to read
	chunked wire.ChunkedReader
	expect  bool // 100 Continue still owed

	limit   int64
	pause   time.Duration
	minRate int64

	n     int64     // bytes read so far
	began time.Time // first read
	err   error     // first client-side error; nil while none
	done  bool      // read to its end
}

// reset prepares the body of the request req for reading.
func (b *reqBody) reset(cc *clientConn, req *wire.Request) {
	chunked := b.chunked
	*b = reqBody{cc: cc, chunked: chunked, length: req.ContentLength, expect: req.ExpectContinue}
	switch {
	case req.Chunked:
		b.length = -1
		b.chunked.Reset(cc.rd)
	case b.length < 0:
		b.length = 0
	}
	b.left = max(b.length, 0)
	b.done = b.length == 0
	b.expect = b.expect && !b.done
	b.limit = -1
}

// configure sets the route's limits before the first read.
func (b *reqBody) configure(rt *route, minRate int64) {
	b.limit = rt.conf.Upstream.MaxRequestBodyBytes
	b.pause = rt.conf.ClientBodyTimeout
	b.minRate = minRate
}

// present reports whether the request has a body.
func (b *reqBody) present() bool { return b.length != 0 }

// finished reports whether the body has been read to its end, so the
// connection's next bytes are the next request.
func (b *reqBody) finished() bool { return b.done && b.err == nil }

func (b *reqBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.cc.wait.state.Load() != watchOff {
		// The watch reads from the client too; it must not be parked
		// while the body is read. (No path arms it before the body has
		// been read; this keeps it so.)
		b.cc.wait.stop()
	}
	if b.began.IsZero() {
		b.began = time.Now()
		if b.expect {
			b.expect = false
			if err := b.cc.write(continueLine); err != nil {
				b.err = errClientGone
				return 0, b.err
			}
		}
	}
	rateBound := false
	if b.cc.rd.Buffered() == 0 {
		rateBound = b.arm()
	}
	var n int
	var err error
	if b.length > 0 {
		p = b.clip(p)
		buffered := b.cc.rd.Buffered() > 0
		n, err = b.cc.rd.Read(p)
		if buffered && err == nil && n < len(p) {
			// The part that came with the head is joined by whatever
			// else has arrived, without waiting for more: a small body
			// sent whole then goes upstream with the head in one write.
			var m int
			m, err = b.cc.c.ReadNow(p[n:])
			n += m
		}
		err = b.took(n, err)
	} else {
		n, err = b.chunked.Read(p)
		if err == io.EOF {
			b.done = true
		}
	}
	return b.settle(n, err, rateBound)
}

// clip cuts p to what is left of a body of known length.
func (b *reqBody) clip(p []byte) []byte {
	if int64(len(p)) > b.left {
		return p[:b.left]
	}
	return p
}

// took counts n bytes read from a body of known length; a stream that ends
// before the body does is cut short.
func (b *reqBody) took(n int, err error) error {
	b.left -= int64(n)
	if b.left == 0 {
		b.done = true
	}
	if err == io.EOF && !b.done {
		return io.ErrUnexpectedEOF
	}
	return err
}

// settle counts n bytes of the body against the limit and turns the read's
// error into the client-side error it stands for, kept for every later
// read. rateBound says whether client_body_min_rate set the deadline.
func (b *reqBody) settle(n int, err error, rateBound bool) (int, error) {
	b.n += int64(n)
	if b.limit >= 0 && b.n > b.limit {
		b.err = errRequestTooLarge
		return 0, b.err
	}
	switch {
	case err == nil, err == io.EOF:
	case isTimeout(err) && rateBound:
		b.err = errBodyTooSlow
	case isTimeout(err):
		b.err = errBodyStalled
	case errors.Is(err, io.ErrUnexpectedEOF), peerClosed(err):
		b.err = errClientGone
	default:
		b.err = err // a bad chunk (*wire.Error) or the connection's own error
	}
	if b.err != nil {
		return n, b.err
	}
	if b.done {
		return n, io.EOF
	}
	return n, nil
}

// arm sets the read deadline for a read that will wait on the client: the
// pause limit, or sooner when the average rate would fall under the
// minimum. It reports whether the rate set it.
func (b *reqBody) arm() bool {
	now := time.Now()
	dl := now.Add(b.pause)
	rate := false
	if b.minRate > 0 {
		// n bytes keep the average up until began + n/minRate.
		need := b.began.Add(max(minRateGrace, time.Duration(b.n*int64(time.Second)/b.minRate)))
		if need.Before(dl) {
			dl, rate = need, true
		}
	}
	_ = b.cc.c.SetReadDeadline(dl)
	return rate
}

// readAll reads a body of known length n whole, for replay.
func (b *reqBody) readAll(n int64) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(b, buf); err != nil {
		if b.err == nil {
			b.err = errClientGone
		}
		return nil, b.err
	}
	return buf, nil
}

// dropBuffered reads and drops the rest of the body when it has all
// arrived already (a small body sent with its head), so an early answer can
// keep the connection. It reads nothing from the socket; false means the
// body is not all here, and the connection must close.
func (b *reqBody) dropBuffered() bool {
	if b.done {
		return b.err == nil
	}
	if b.err != nil || b.length < 0 || b.expect {
		return false
	}
	if int64(b.cc.rd.Buffered()) < b.left {
		return false
	}
	_, _ = b.cc.rd.Discard(int(b.left))
	b.n += b.left
	b.left, b.done = 0, true
	return true
}
