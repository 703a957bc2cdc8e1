package proxy

import (
	"context"
	"log/slog"
	"time"

	"ferrum/actors/proxy/headers"
	"ferrum/actors/proxy/pathx"
	"ferrum/actors/proxy/wire"
)

// request is what one client request came to, for the answer, the logs and
// the metrics. Everything in it is copied out of the head before the body
// is read, since reading the body may reuse the buffer the head is in.
type request struct {
	start    time.Time
	method   int // index into methods
	head     bool
	http10   bool
	idem     bool // an idempotent method: may be retried
	close    bool // the connection closes after the answer
	path     string
	query    string
	hasQuery bool

	// body is the request body as the backend reads it.
	body reqBody

	route    *route
	backend  *upstream
	attempts int
	status   int    // status sent, or 499 when the client left first
	kind     string // contract error kind, "" when none
	sent     int64  // response body bytes sent to the client
	started  bool   // the answer's head has gone to the client
	abort    bool   // the answer was cut off: close without more
	upstream time.Duration

	// unreported is the route whose pick of backend unreportedIdx has not
	// been reported yet; nil once report gave it back.
	unreported    *route
	unreportedIdx int
	attemptStart  time.Time

	// For the access log, filled only when it is on.
	host, userAgent, client, otherMethod string
}

// exchange serves one request whose head is head, and reports whether the
// connection may carry another.
func (cc *clientConn) exchange(head []byte) bool {
	r := &cc.r
	body := r.body
	*r = request{start: time.Now(), body: body}
	req := &cc.req
	if err := wire.ParseRequest(head, req); err != nil {
		cc.reject(methodIndex(req.Method), err)
		return false
	}
	p := cc.p
	t := p.table.Load()
	r.method = methodIndex(req.Method)
	r.head = r.method == mHEAD
	r.http10 = req.Minor == 0
	r.idem = idempotent(r.method)
	r.close = req.Close || r.http10 || p.draining.Load()
	cc.setRequestID()
	r.body.reset(cc, req)
	if t.cfg.Log.AccessLog {
		cc.noteForLog(t)
	}
	ok := cc.splitTarget()
	if ok && p.ownEndpoint(cc, t) {
		return cc.keepAfter()
	}
	p.metrics.inflight.Inc()
	defer p.metrics.inflight.Dec()
	defer r.releaseUnreported()
	switch {
	case !ok:
		cc.fail(failure{kind: KindBadRequest, status: 400})
	case req.ExpectOther:
		r.close = true
		cc.fail(failure{kind: KindBadRequest, status: 417})
	default:
		idx, found := t.matcher.Match(r.path)
		if !found {
			if r.path == "/" && t.rootOK {
				p.status(cc)
				break
			}
			cc.fail(failure{kind: KindNoRoute, status: 404})
			break
		}
		r.route = t.routes[idx]
		cc.proxy(t)
	}
	cc.complete(t)
	return cc.keepAfter()
}

// keepAfter decides, once an answer is out, whether the connection carries
// another request: not when it was cut, asked to close, drained, or left
// with a body nobody read.
func (cc *clientConn) keepAfter() bool {
	r := &cc.r
	cc.wait.stop()
	if r.abort || r.close || cc.wait.gone.Load() {
		return false
	}
	return r.body.finished()
}

// setRequestID takes the client's X-Request-Id when it sent exactly one
// sane one, or makes a new one.
func (cc *clientConn) setRequestID() {
	var v []byte
	n := 0
	for _, f := range cc.req.Fields {
		if wire.EqualFold(f.Name, "x-request-id") {
			v = f.Value
			n++
		}
	}
	if n == 1 && headers.ValidRequestID(v) {
		cc.idBuf = append(cc.idBuf[:0], v...)
		return
	}
	cc.idBuf = appendNewID(cc.idBuf[:0])
}

// appendNewID appends a fresh request id.
func appendNewID(dst []byte) []byte { return headers.AppendRequestID(dst) }

// splitTarget sets the request's path (dot-segments resolved) and query.
// false means the target is not one ferrum routes (400).
func (cc *clientConn) splitTarget() bool {
	req, r := &cc.req, &cc.r
	var pq []byte
	switch req.Form {
	case wire.FormOrigin:
		pq = req.PathQuery
	case wire.FormAbsolute:
		pq = req.PathQuery
		if len(pq) == 0 || pq[0] == '?' {
			cc.path = append(cc.path[:0], '/')
			pq = append(cc.path, pq...)
		}
	default:
		return false
	}
	cc.path = append(cc.path[:0], pq...)
	target := string(cc.path)
	path, query, hasQuery, ok := pathx.SplitTarget(target)
	if !ok {
		return false
	}
	if path, ok = pathx.Normalize(path); !ok {
		return false
	}
	r.path, r.query, r.hasQuery = path, query, hasQuery
	return true
}

// noteForLog copies what the access log shows out of the head.
func (cc *clientConn) noteForLog(t *Table) {
	r, req := &cc.r, &cc.req
	r.host = string(req.HostValue())
	if r.method == mOTHER {
		r.otherMethod = string(req.Method)
	}
	var xff [][]byte
	for _, f := range req.Fields {
		switch {
		case wire.EqualFold(f.Name, "user-agent"):
			r.userAgent = string(f.Value)
		case wire.EqualFold(f.Name, "x-forwarded-for"):
			xff = append(xff, f.Value)
		}
	}
	r.client = t.trust.ClientIP(cc.peer, xff).String()
}

// complete accounts for a finished client request: metrics, and the access
// log line when asked for.
func (cc *clientConn) complete(t *Table) {
	r := &cc.r
	if r.status == 0 || (cc.wait.gone.Load() && !r.started) {
		r.status, r.kind = 499, KindClientDisconnect
	}
	elapsed := time.Since(r.start)
	rm, routeName := t.none, routeNone
	if r.route != nil {
		rm, routeName = r.route.metrics, r.route.conf.PathPrefix
	}
	rm.request(r.method, r.status, elapsed.Seconds(), r.kind)
	if !t.cfg.Log.AccessLog {
		return
	}
	backend := ""
	if r.backend != nil {
		backend = r.backend.url
	}
	protocol := "HTTP/1.1"
	if r.http10 {
		protocol = "HTTP/1.0"
	}
	method := methods[r.method]
	if r.method == mOTHER {
		method = r.otherMethod
	}
	attrs := make([]slog.Attr, 0, 18)
	attrs = append(attrs, slog.String("request_id", string(cc.idBuf)), slog.String("client", r.client),
		slog.String("method", method), slog.String("host", r.host), slog.String("path", r.path))
	if t.cfg.Log.AccessLogQuery {
		attrs = append(attrs, slog.String("query", r.query))
	}
	attrs = append(attrs, slog.String("protocol", protocol), slog.String("route", routeName), slog.String("backend", backend),
		slog.Int("status", r.status), slog.Int("attempts", r.attempts), slog.Duration("upstream_time", r.upstream),
		slog.Duration("duration", elapsed), slog.Int64("bytes_received", r.body.n), slog.Int64("bytes_sent", r.sent),
		slog.String("user_agent", r.userAgent), slog.String("error_kind", r.kind))
	cc.p.log.LogAttrs(context.Background(), slog.LevelInfo, "request_complete", attrs...)
}

// fieldValue returns the value of the first field called name (lower
// case), and whether there was one.
func fieldValue(fields []wire.Field, name string) ([]byte, bool) {
	for _, f := range fields {
		if wire.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return nil, false
}

// Indexes of methods the request path tells apart.
const (
	mGET = iota
	mHEAD
	mPOST
	mPUT
	mDELETE
	mCONNECT
	mOPTIONS
	mTRACE
	mPATCH
	mOTHER
)

// methods are the method label values, by index; anything else is OTHER.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

// methodIndex returns the index of a standard method (case-sensitive, as
// methods are), else mOTHER.
func methodIndex(m []byte) int {
	for i, s := range methods[:mOTHER] {
		if string(m) == s {
			return i
		}
	}
	return mOTHER
}

// idempotent reports the methods the contract retries on status.
func idempotent(m int) bool {
	switch m {
	case mGET, mHEAD, mOPTIONS, mTRACE, mPUT, mDELETE:
		return true
	}
	return false
}

// hasPrefixFold reports whether b starts with prefix (lower case) in any case.
func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && wire.EqualFold(b[:len(prefix)], prefix)
}

var crlf = []byte("\r\n")
