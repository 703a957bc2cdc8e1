package proxy

import (
	"ferrum/actors/proxy/wire"
)

// How a field is treated when a head crosses ferrum (fieldClass).
const (
	fieldKeep      = iota // passed on as it is
	fieldHop              // hop-by-hop: never passed on
	fieldTE               // TE: only "trailers" survives, on requests
	fieldFraming          // Content-Length: ferrum sets the framing itself
	fieldHost             // Host: set from the route's preserve_host
	fieldExpect           // Expect: ferrum answers 100-continue itself
	fieldRequestID        // X-Request-Id: ferrum sets it
	fieldXFF              // X-Forwarded-For
	fieldXFProto          // X-Forwarded-Proto
	fieldXFHost           // X-Forwarded-Host
	fieldXFOther          // any other X-Forwarded-*
	fieldForwarded        // Forwarded
)

// fieldClass classifies a field name (any case). Most names cost a length
// switch and at most two folded compares.
func fieldClass(n []byte) int {
	switch len(n) {
	case 2:
		if wire.EqualFold(n, "te") {
			return fieldTE
		}
	case 4:
		if wire.EqualFold(n, "host") {
			return fieldHost
		}
	case 6:
		if wire.EqualFold(n, "expect") {
			return fieldExpect
		}
	case 7:
		if wire.EqualFold(n, "upgrade") || wire.EqualFold(n, "trailer") {
			return fieldHop
		}
	case 9:
		if wire.EqualFold(n, "forwarded") {
			return fieldForwarded
		}
	case 10:
		if wire.EqualFold(n, "connection") || wire.EqualFold(n, "keep-alive") {
			return fieldHop
		}
	case 12:
		if wire.EqualFold(n, "x-request-id") {
			return fieldRequestID
		}
	case 14:
		if wire.EqualFold(n, "content-length") {
			return fieldFraming
		}
	case 15:
		if wire.EqualFold(n, "x-forwarded-for") {
			return fieldXFF
		}
	case 16:
		switch {
		case wire.EqualFold(n, "proxy-connection"):
			return fieldHop
		case wire.EqualFold(n, "x-forwarded-host"):
			return fieldXFHost
		}
	case 17:
		switch {
		case wire.EqualFold(n, "transfer-encoding"):
			return fieldHop
		case wire.EqualFold(n, "x-forwarded-proto"):
			return fieldXFProto
		}
	case 18:
		if wire.EqualFold(n, "proxy-authenticate") {
			return fieldHop
		}
	case 19:
		if wire.EqualFold(n, "proxy-authorization") {
			return fieldHop
		}
	}
	if len(n) > 12 && hasPrefixFold(n, "x-forwarded-") {
		return fieldXFOther
	}
	return fieldKeep
}

// maxNamed bounds the field names one Connection field list may make
// hop-by-hop; names past it are still honoured, by a slower check.
const maxNamed = 8

// connNamed is the set of field names a message's Connection fields list
// beyond those always removed: each is hop-by-hop for that message.
type connNamed struct {
	names [maxNamed][]byte
	n     int
	more  bool         // more names than fit; named falls back to scanning
	conn  []wire.Field // the message's fields, for that scan
}

// collect gathers the names listed by the Connection fields of fields.
func (c *connNamed) collect(fields []wire.Field) {
	c.n, c.more, c.conn = 0, false, fields
	for _, f := range fields {
		if len(f.Name) != 10 || !wire.EqualFold(f.Name, "connection") {
			continue
		}
		v := f.Value
		for len(v) > 0 {
			end := 0
			for end < len(v) && v[end] != ',' {
				end++
			}
			tok := trimSpace(v[:end])
			if len(tok) > 0 && fieldClass(tok) == fieldKeep || len(tok) > 0 && isXForwarded(tok) {
				if c.n < maxNamed {
					c.names[c.n] = tok
					c.n++
				} else {
					c.more = true
				}
			}
			if end == len(v) {
				break
			}
			v = v[end+1:]
		}
	}
}

// isXForwarded reports the X-Forwarded-* family and Forwarded, which
// Connection may name too.
func isXForwarded(n []byte) bool {
	switch fieldClass(n) {
	case fieldXFF, fieldXFProto, fieldXFHost, fieldXFOther, fieldForwarded, fieldRequestID:
		return true
	}
	return false
}

// named reports whether name is listed by the message's Connection fields.
func (c *connNamed) named(name []byte) bool {
	for i := 0; i < c.n; i++ {
		if foldEq(name, c.names[i]) {
			return true
		}
	}
	if !c.more {
		return false
	}
	for _, f := range c.conn {
		if len(f.Name) == 10 && wire.EqualFold(f.Name, "connection") && listsToken(f.Value, name) {
			return true
		}
	}
	return false
}

func trimSpace(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// foldEq reports whether a and b are equal under ASCII case folding.
func foldEq(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// listsToken reports whether the comma-separated list v has the element
// tok, in any case.
func listsToken(v, tok []byte) bool {
	for len(v) > 0 {
		end := 0
		for end < len(v) && v[end] != ',' {
			end++
		}
		if foldEq(trimSpace(v[:end]), tok) {
			return true
		}
		if end == len(v) {
			return false
		}
		v = v[end+1:]
	}
	return false
}
