package proxy

import (
	"bytes"
	"net"
	"strconv"

	"ferrum/actors/proxy/headers"
)

// serverErrorHead is the header block net/http writes itself when it cannot
// parse a request (conflicting lengths, an unknown transfer coding, a head
// over max_header_bytes) and answers before any handler runs. Handler
// responses always carry a Date header, so they never match.
var serverErrorHead = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// watchListener wraps each accepted connection so the proxy's own rules hold
// for those early answers too: they carry an X-Request-Id and are counted.
type watchListener struct {
	net.Listener
	p *Proxy
}

// Watch wraps ln for p; see watchListener.
func (p *Proxy) Watch(ln net.Listener) net.Listener { return &watchListener{Listener: ln, p: p} }

func (l *watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchConn{Conn: c, p: l.p}, nil
}

// watchConn passes everything through, except that it recognises net/http's
// own error answers on their way out, and notes the method of the last
// request head it read, so those answers are counted under it.
type watchConn struct {
	net.Conn
	p      *Proxy
	method string // a methods label value; "" until a head was seen
}

func (c *watchConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if m := leadingMethod(b[:n]); m != "" {
		c.method = m
	}
	return n, err
}

// unwatched returns the connection under c, for a tunnel: its bytes are no
// longer HTTP, and its two directions run on two goroutines.
func unwatched(c net.Conn) net.Conn {
	if wc, ok := c.(*watchConn); ok {
		return wc.Conn
	}
	return c
}

// leadingMethod returns the standard method b starts with, followed by a
// space, or "". Reads of request bodies rarely start that way, and when one
// does, only the method label of a request net/http rejects is affected.
func leadingMethod(b []byte) string {
	sp := bytes.IndexByte(b[:min(len(b), 8)], ' ')
	if sp <= 0 {
		return ""
	}
	for _, m := range methods[:len(methods)-1] {
		if len(m) == sp && string(b[:sp]) == m {
			return m
		}
	}
	return ""
}

// CloseWrite lets net/http half-close after a 431, as it does on a bare
// TCP connection.
func (c *watchConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *watchConn) Write(b []byte) (int, error) {
	if len(b) < 13 || !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) || (b[9] != '4' && b[9] != '5') {
		return c.Conn.Write(b)
	}
	i := bytes.Index(b, serverErrorHead)
	if i < 0 || bytes.IndexByte(b[:i], '\n') >= 0 {
		return c.Conn.Write(b)
	}
	code, err := strconv.Atoi(string(b[9:12]))
	if err != nil {
		return c.Conn.Write(b)
	}
	c.p.rejected(code, c.method)
	id := headers.NewRequestID()
	out := make([]byte, 0, len(b)+len(id)+16)
	out = append(out, b[:i]...)
	out = append(out, "\r\nX-Request-Id: "...)
	out = append(out, id...)
	out = append(out, b[i:]...)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// rejected counts a request net/http refused before ferrum saw it, under
// the method its head started with (OTHER when unknown).
func (p *Proxy) rejected(code int, method string) {
	if p.metrics == nil {
		return
	}
	kind := KindBadRequest
	if code == 431 {
		kind = KindRequestTooLarge
	}
	p.metrics.none.request(method, code, 0, kind)
}
