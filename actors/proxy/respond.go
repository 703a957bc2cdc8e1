package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"ferrum/actors/proxy/headers"
)

// exchange is what one client request came to, for logs and metrics.
type exchange struct {
	id       string
	idHeader []string // []string{id}, made once and shared by every answer
	route    *route
	backend  *upstream
	attempts int
	status   int    // status sent, or 499 when the client left first
	kind     string // contract error kind, "" when none
	bytes    int64
	abort    bool          // the response was cut off: close the client connection
	hasBody  bool          // the request came with a body
	reqBody  io.ReadCloser // the client's body, to drain before an early answer
	// expectContinue: the client waits for 100 Continue before its body.
	expectContinue bool
	body           *bodyReader // the body as read so far; nil until forwarding began
	// unreported is the route whose pick of backend unreportedIdx has not
	// been reported yet; nil once report gave it back.
	unreported    *route
	unreportedIdx int

	attemptStart time.Time // when the attempt in flight began
}

// stream sends an upstream response to the client, body streamed.
func (p *Proxy) stream(w http.ResponseWriter, ex *exchange, rt *route, idx int, resp *http.Response) {
	defer resp.Body.Close()
	up := &rt.conf.Upstream
	if resp.ContentLength > up.MaxResponseBodyBytes && resp.Request.Method != http.MethodHead {
		p.report(ex, rt, idx, false, resp.StatusCode, "")
		p.fail(w, ex, failure{kind: KindResponseTooLarge, status: http.StatusBadGateway})
		return
	}
	dst := responseHead(w, resp.Header, ex)
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		dst["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	ex.status = resp.StatusCode
	n, err := copyResponse(w, resp.Body, up.MaxResponseBodyBytes)
	ex.bytes = n
	if err == nil {
		for k, vv := range resp.Trailer {
			dst[http.TrailerPrefix+k] = vv
		}
		p.report(ex, rt, idx, false, resp.StatusCode, "")
		return
	}
	ex.abort = true
	var cw *errClientWrite
	switch {
	case errors.As(err, &cw):
		ex.kind = KindClientDisconnect
		p.report(ex, rt, idx, true, resp.StatusCode, "")
	case errors.Is(err, errResponseTooLarge):
		ex.kind = KindResponseTooLarge
		p.report(ex, rt, idx, false, resp.StatusCode, "")
	case errors.Is(err, errBodyTimeout):
		ex.kind = KindUpstreamBodyTimeout
		p.report(ex, rt, idx, false, resp.StatusCode, ex.kind)
	default:
		ex.kind = KindUpstreamReset
		p.report(ex, rt, idx, false, resp.StatusCode, ex.kind)
	}
}

// responseHead fills the client's response header from a backend's: hop-by-hop
// headers out, the request id in. It returns the client's header.
func responseHead(w http.ResponseWriter, from http.Header, ex *exchange) http.Header {
	headers.RemoveHopByHop(from)
	dst := w.Header()
	for k, vv := range from {
		dst[k] = vv
	}
	dst["X-Request-Id"] = ex.idHeader
	return dst
}

// finish answers after the last attempt: the last real upstream response
// when one was kept, the failure's own status otherwise.
func (p *Proxy) finish(w http.ResponseWriter, ex *exchange, held *heldResponse, last failure) {
	if held == nil {
		p.fail(w, ex, last)
		return
	}
	responseHead(w, held.header, ex)
	ex.closeIfBodyUnread(w)
	w.WriteHeader(held.status)
	n, _ := w.Write(held.body)
	ex.status, ex.bytes = held.status, int64(n)
}

// fail answers with the proxy's own status for f, or nothing when the client
// is gone.
func (p *Proxy) fail(w http.ResponseWriter, ex *exchange, f failure) {
	ex.kind = f.kind
	ex.status = f.status
	if f.status == 499 {
		return
	}
	ex.closeIfBodyUnread(w)
	plain(w, f.status, ex.id)
}

// releaseUnreported gives back a pick that was never reported, which only a
// panic between pick and report can leave behind: the route's count of
// attempts in flight would otherwise stay one too high for good.
func (ex *exchange) releaseUnreported() {
	if ex.unreported != nil {
		ex.unreported.actor.Release(ex.unreportedIdx)
		ex.unreported = nil
	}
}

// closeIfBodyUnread deals with the rest of a request body before an answer
// given without reading it to its end. What already sits in net/http's read
// buffer (4 KiB) is read and dropped, and the connection stays. Otherwise
// the answer is marked as the connection's last and reads from the client
// stop at once: left alone, net/http would read what is left of the body
// before or after sending the answer, and a client that waits for the
// answer before sending its body (a 413 for a declared length, say) would
// wait forever, holding the connection.
func (ex *exchange) closeIfBodyUnread(w http.ResponseWriter) {
	if !ex.hasBody || (ex.body != nil && ex.body.complete()) {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(aLongTimeAgo) // only bytes already here are read
	if ex.mayDrain(w) {
		n, err := io.Copy(io.Discard, io.LimitReader(ex.reqBody, earlyDrainLimit+1))
		if err == nil && n <= earlyDrainLimit {
			_ = rc.SetReadDeadline(time.Time{})
			return
		}
	}
	w.Header().Set("Connection", "close")
}

// mayDrain reports whether the rest of the body may be read before an early
// answer: not a body net/http would first invite with 100 Continue (the
// client is still waiting for it), not one after a client error, and not on
// a connection that closes anyway.
func (ex *exchange) mayDrain(w http.ResponseWriter) bool {
	switch {
	case ex.reqBody == nil || w.Header().Get("Connection") == "close":
		return false
	case ex.body == nil:
		return !ex.expectContinue
	default:
		return ex.body.err == nil && !(ex.expectContinue && ex.body.n == 0)
	}
}

// earlyDrainLimit bounds the body bytes read and dropped to keep a
// connection after an early answer; in practice the read buffer's size
// bounds them first.
const earlyDrainLimit = 64 << 10

// aLongTimeAgo is a deadline that has always passed.
var aLongTimeAgo = time.Unix(1, 0)

func (p *Proxy) retryLog(ex *exchange, rt *route, b *upstream, attempt int, reason string) {
	if rt.metrics != nil {
		rt.metrics.retries[reason].Inc()
	}
	p.log.Info("retry_attempt", "request_id", ex.id, "route", rt.conf.PathPrefix, "backend", b.url,
		"attempt", attempt, "reason", reason)
}
