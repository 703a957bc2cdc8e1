package proxy

import (
	"strconv"

	"ferrum/actors/proxy/pathx"
	"ferrum/actors/proxy/wire"
)

// upHead is a request head for the backend, built once per client request
// in clientConn.upReq: the request line, then the fields. Each attempt
// completes it with Host (which depends on the backend when
// preserve_host = false) and the framing.
type upHead struct {
	lineEnd  int    // upReq[:lineEnd] is the request line
	host     []byte // the client's host (Host, or the absolute target's authority); a copy
	method   []byte // a copy, for the request line of every attempt
	postLike bool   // POST, PUT or PATCH: an empty body still gets Content-Length: 0
}

// buildUpstreamHead writes the request line and the fields the backend
// gets into cc.upReq: hop-by-hop fields and those Connection names gone,
// X-Forwarded-* as server.trusted_proxies say, the request id in place; an
// upgrade carries Connection and Upgrade on. It copies everything it needs
// out of the client's head, which the body may overwrite.
func (cc *clientConn) buildUpstreamHead(t *Table, rt *route, upgrade []byte) {
	req, r := &cc.req, &cc.r
	h := &cc.up
	b := cc.upReq[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	path := r.path
	if rt.conf.StripPrefix {
		path = pathx.StripPrefix(path, rt.conf.PathPrefix)
	}
	b = append(b, path...)
	if r.hasQuery {
		b = append(b, '?')
		b = append(b, r.query...)
	}
	b = append(b, " HTTP/1.1\r\n"...)
	h.lineEnd = len(b)
	h.method = append(h.method[:0], req.Method...)
	h.postLike = r.method == mPOST || r.method == mPUT || r.method == mPATCH
	h.host = append(h.host[:0], req.HostValue()...)

	trusted := t.trust.Contains(cc.peer)
	var named connNamed
	if req.HasConnection {
		named.collect(req.Fields)
	}
	var keepTE, xfp, xfh bool
	xffAt, xffEnd := -1, -1 // the trusted X-Forwarded-For values, joined, in b
	for _, f := range req.Fields {
		class := fieldClass(f.Name)
		if named.n > 0 || named.more {
			if class != fieldTE && named.named(f.Name) {
				continue
			}
		}
		switch class {
		case fieldKeep:
		case fieldTE:
			keepTE = keepTE || wire.ContainsToken(f.Value, "trailers")
			continue
		case fieldXFF:
			if trusted && len(f.Value) > 0 {
				// Joined in place later; remember where the values sit.
				if xffAt < 0 {
					xffAt = len(cc.xff)
				}
				if len(cc.xff) > 0 {
					cc.xff = append(cc.xff, ", "...)
				}
				cc.xff = append(cc.xff, f.Value...)
				xffEnd = len(cc.xff)
			}
			continue
		case fieldXFProto, fieldXFHost, fieldXFOther, fieldForwarded:
			if !trusted || len(f.Value) == 0 && (class == fieldXFProto || class == fieldXFHost) {
				// An empty X-Forwarded-Proto or -Host says nothing:
				// ferrum's own value takes its place below.
				continue
			}
			xfp = xfp || class == fieldXFProto && len(f.Value) > 0
			xfh = xfh || class == fieldXFHost && len(f.Value) > 0
		default:
			continue
		}
		b = wire.AppendField(b, f.Name, f.Value)
	}
	if keepTE {
		b = append(b, "TE: trailers\r\n"...)
	}
	if upgrade != nil {
		b = append(b, "Connection: Upgrade\r\n"...)
		b = wire.AppendField(b, "Upgrade", upgrade)
	}
	b = append(b, "X-Forwarded-For: "...)
	if xffAt >= 0 {
		b = append(b, cc.xff[xffAt:xffEnd]...)
		b = append(b, ", "...)
	}
	cc.xff = cc.xff[:0]
	b = append(b, cc.peerText...)
	b = append(b, "\r\n"...)
	if !xfp {
		b = append(b, "X-Forwarded-Proto: http\r\n"...)
	}
	if !xfh && len(h.host) > 0 {
		b = wire.AppendField(b, "X-Forwarded-Host", h.host)
	}
	b = wire.AppendField(b, "X-Request-Id", cc.idBuf)
	cc.upReq = b
}

// attemptHead returns the complete head for one attempt at backend u:
// Host as the route's preserve_host says, then the framing for a body of
// length n (-1: chunked; 0: none).
func (cc *clientConn) attemptHead(rt *route, u *upstream, n int64) []byte {
	h := &cc.up
	b := append(cc.upOut[:0], cc.upReq[:h.lineEnd]...)
	b = append(b, "Host: "...)
	if rt.conf.PreserveHost && len(h.host) > 0 {
		b = append(b, h.host...)
	} else {
		// An HTTP/1.0 client may send no Host; the backend still gets one.
		b = append(b, u.host...)
	}
	b = append(b, "\r\n"...)
	b = append(b, cc.upReq[h.lineEnd:]...)
	switch {
	case n > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, "\r\n"...)
	case n < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case h.postLike:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, "\r\n"...)
	cc.upOut = b
	return b
}
