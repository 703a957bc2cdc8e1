package proxy

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/actors/proxy/wire"
)

// How an answer's body is framed to the client.
const (
	frameNone    = iota // no body (HEAD, 1xx, 204, 304)
	frameLength         // Content-Length
	frameChunked        // chunked (an HTTP/1.1 client, length unknown)
	frameClose          // until the connection closes (an HTTP/1.0 client, length unknown)
)

// appendFields appends the fields of an upstream answer that the client
// gets: everything but the hop-by-hop fields, those Connection names, the
// framing and X-Request-Id, which ferrum sets.
func appendFields(b []byte, fields []wire.Field, hasConnection bool) []byte {
	var named connNamed
	if hasConnection {
		named.collect(fields)
	}
	for _, f := range fields {
		switch fieldClass(f.Name) {
		case fieldHop, fieldTE, fieldFraming, fieldRequestID:
			continue
		}
		if (named.n > 0 || named.more) && named.named(f.Name) {
			continue
		}
		b = wire.AppendField(b, f.Name, f.Value)
	}
	return b
}

// appendTail ends a head: the request id, the framing, Connection: close
// when the connection ends after this answer, and the empty line.
func (cc *clientConn) appendTail(b []byte, frame int, length int64) []byte {
	b = wire.AppendField(b, "X-Request-Id", cc.idBuf)
	switch frame {
	case frameLength:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	case frameChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if cc.r.close || frame == frameClose {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// framing decides how the upstream answer resp reaches this client.
func (cc *clientConn) framing(resp *wire.Response) (frame int, length int64) {
	switch {
	case resp.Body == wire.BodyNone || cc.r.head:
		// A HEAD or 304 answer may announce a length it does not carry.
		if resp.ContentLength >= 0 && resp.Status != 204 && resp.Status >= 200 {
			return frameNone, resp.ContentLength
		}
		return frameNone, -1
	case resp.Body == wire.BodyLength:
		return frameLength, resp.ContentLength
	case cc.r.http10:
		return frameClose, -1
	}
	return frameChunked, -1
}

// respBufPool holds the buffers answers are copied through.
var respBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// stream sends the upstream answer on pc to the client, body streamed:
// bytes go out as the backend sends them. It reports the attempt.
func (cc *clientConn) stream(rt *route, idx int, pc *pconn) {
	r := &cc.r
	resp := &pc.resp
	limit := rt.conf.Upstream.MaxResponseBodyBytes
	if resp.Body == wire.BodyLength && resp.ContentLength > limit && !r.head {
		cc.report(rt, idx, false, resp.Status, "")
		pc.Close()
		cc.fail(failure{kind: KindResponseTooLarge, status: http.StatusBadGateway})
		return
	}
	if !r.body.finished() {
		// The backend answered before the whole body was read: the rest of
		// it is still on the connection.
		r.close = true
	}
	frame, length := cc.framing(resp)
	if frame == frameNone && length >= 0 {
		// Announced, not carried: Content-Length as the backend sent it.
		frame = frameLength
		pc.kind = wire.BodyNone
	}
	head := appendFields(wire.AppendStatusLine(cc.head[:0], resp.Status), resp.Fields, resp.HasConnection)
	head = cc.appendTail(head, frame, length)
	cc.head = head
	if pc.kind == wire.BodyLength && frame != frameLength {
		pc.kind = wire.BodyNone // a HEAD answer
	}
	// pc (and resp with it) goes back to its pool once the body has been
	// read to its end: nothing of it may be used after that.
	status := resp.Status
	r.status, r.started = status, true
	chunked := frame == frameChunked
	if pc.kind == wire.BodyNone || pc.rd.Buffered() == 0 {
		// Nothing of the body is here yet: the head goes first, so a
		// stream (server-sent events) starts at once.
		if err := cc.write(head); err != nil {
			pc.Close()
			cc.streamFailed(rt, idx, status, err)
			return
		}
		head = nil
	}
	ended, err := cc.copyBody(pc, head, chunked, limit)
	if !ended {
		pc.Close()
	}
	if err == nil {
		cc.report(rt, idx, false, status, "")
		return
	}
	cc.streamFailed(rt, idx, status, err)
}

// copyBody copies the answer's body from pc to the client, the pending
// head (if any) with its first bytes; chunked frames each piece. ended
// reports that the body was read to its end, and pc released.
func (cc *clientConn) copyBody(pc *pconn, head []byte, chunked bool, limit int64) (ended bool, err error) {
	r := &cc.r
	bp := respBufPool.Get().(*[]byte)
	defer respBufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := pc.Read(buf)
		ended = ended || rerr == io.EOF
		if n > 0 {
			if r.sent+int64(n) > limit {
				n = int(limit - r.sent)
				rerr = errResponseTooLarge
			}
			var err error
			if chunked {
				sz := strconv.AppendInt(cc.chunkSize[:0], int64(n), 16)
				sz = append(sz, '\r', '\n')
				err = cc.writev(head, sz, buf[:n], crlf)
			} else {
				err = cc.writev(head, buf[:n])
			}
			if err != nil {
				return ended, err
			}
			head = nil
			r.sent += int64(n)
		}
		if rerr == io.EOF {
			switch {
			case chunked:
				return true, cc.writev(head, lastChunk)
			case head != nil:
				return true, cc.write(head)
			}
			return true, nil
		}
		if rerr != nil {
			if head != nil {
				// Nothing went out yet; the client still gets the head,
				// then the cut.
				_ = cc.write(head)
			}
			return ended, rerr
		}
	}
}

// streamFailed accounts for an answer cut off after its head went out: the
// only honest way left to fail is to close the connection.
func (cc *clientConn) streamFailed(rt *route, idx int, status int, err error) {
	r := &cc.r
	r.abort = true
	var cw *clientWriteError
	switch {
	case errors.As(err, &cw), cc.wait.gone.Load():
		r.kind = KindClientDisconnect
		cc.report(rt, idx, true, status, "")
	case errors.Is(err, errResponseTooLarge):
		r.kind = KindResponseTooLarge
		cc.report(rt, idx, false, status, "")
	case errors.Is(err, errUpstreamStalled):
		r.kind = KindUpstreamBodyTimeout
		cc.report(rt, idx, false, status, r.kind)
	default:
		r.kind = KindUpstreamReset
		cc.report(rt, idx, false, status, r.kind)
	}
}

// heldResponse is a complete upstream answer kept while another attempt
// runs: its head fields (already filtered) and body, copied.
type heldResponse struct {
	status int
	fields []byte
	body   []byte
}

// lastResponseLimit bounds how much of a retried answer is kept so the
// client can still get it when every attempt fails.
const lastResponseLimit = 64 << 10

// hold reads a small retried answer whole so it can still be the answer
// when later attempts fail; ok is false when it was too large or broken.
func hold(pc *pconn) (*heldResponse, bool) {
	resp := &pc.resp
	h := &heldResponse{status: resp.Status, fields: appendFields(nil, resp.Fields, resp.HasConnection)}
	b, err := io.ReadAll(io.LimitReader(pc, lastResponseLimit+1))
	if err != nil || len(b) > lastResponseLimit {
		// The body did not end: pc is still ours to close.
		pc.Close()
		return nil, false
	}
	// The body ended and pc went back to its pool: hands off.
	h.body = b
	return h, true
}

// sendHeld answers with a held upstream answer.
func (cc *clientConn) sendHeld(h *heldResponse) {
	r := &cc.r
	cc.dropUnreadBody()
	b := append(wire.AppendStatusLine(cc.head[:0], h.status), h.fields...)
	b = cc.appendTail(b, frameLength, int64(len(h.body)))
	cc.head = b
	r.status, r.started = h.status, true
	body := h.body
	if r.head {
		body = nil
	}
	if err := cc.writev(b, body); err != nil {
		r.abort = true
		return
	}
	r.sent = int64(len(body))
}

// fail answers with the proxy's own status for f, or nothing when the
// client is gone.
func (cc *clientConn) fail(f failure) {
	r := &cc.r
	r.kind, r.status = f.kind, f.status
	if f.status == 499 {
		r.abort = true
		return
	}
	cc.dropUnreadBody()
	if err := cc.writeOwn(f.status, r.close); err != nil {
		r.abort = true
	}
	r.started = true
}

// dropUnreadBody deals with the rest of a request body before an answer
// given without reading it to its end: a small body that already arrived
// whole is dropped and the connection kept; otherwise the answer is the
// connection's last, so a client that waits for the answer before sending
// its body (a 413 for a declared length, say) is not left waiting.
func (cc *clientConn) dropUnreadBody() {
	r := &cc.r
	if !r.body.present() || r.body.finished() || r.close {
		return
	}
	if !r.body.dropBuffered() {
		r.close = true
	}
}

// writeOwn writes one of the proxy's own short answers. Bodies name the
// status only, never a backend.
func (cc *clientConn) writeOwn(status int, closeConn bool) error {
	return cc.writeAnswer(status, "text/plain; charset=utf-8", statusBody(status), closeConn, nil)
}

// writeAnswer writes an answer the proxy makes itself, with its body whole.
func (cc *clientConn) writeAnswer(status int, contentType, body string, closeConn bool, extra []wire.Field) error {
	b := wire.AppendStatusLine(cc.head[:0], status)
	b = wire.AppendField(b, "Content-Type", contentType)
	b = append(b, "X-Content-Type-Options: nosniff\r\n"...)
	b = appendDate(b)
	for _, f := range extra {
		b = wire.AppendField(b, f.Name, f.Value)
	}
	b = wire.AppendField(b, "X-Request-Id", cc.idBuf)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !cc.r.head {
		b = append(b, body...)
		cc.r.sent = int64(len(body))
	}
	cc.head = b
	return cc.write(b)
}

func statusBody(status int) string {
	switch status {
	case http.StatusNotFound:
		return "no route\n"
	case http.StatusServiceUnavailable:
		return "no healthy backend\n"
	case http.StatusBadGateway:
		return "bad gateway\n"
	case http.StatusGatewayTimeout:
		return "gateway timeout\n"
	}
	return strings.ToLower(http.StatusText(status)) + "\n"
}

// date holds the Date field line for the current second, remade at most
// once a second by whichever answer notices it is stale.
var date atomic.Pointer[dateLine]

type dateLine struct {
	unix int64
	line []byte
}

// appendDate appends "Date: <IMF-fixdate>\r\n".
func appendDate(b []byte) []byte {
	now := time.Now()
	d := date.Load()
	if d == nil || d.unix != now.Unix() {
		line := now.UTC().AppendFormat([]byte("Date: "), http.TimeFormat)
		d = &dateLine{unix: now.Unix(), line: append(line, "\r\n"...)}
		date.Store(d)
	}
	return append(b, d.line...)
}
