package wire

import "bytes"

// BodyKind says how the body of a response is delimited (RFC 9112 §6.3).
type BodyKind uint8

const (
	// BodyNone: no body follows the head (HEAD request, 1xx, 204, 304).
	BodyNone BodyKind = iota
	// BodyLength: exactly ContentLength bytes follow.
	BodyLength
	// BodyChunked: a chunked body follows; decode it with ChunkedReader.
	BodyChunked
	// BodyUntilClose: the body runs until the upstream closes the
	// connection, which therefore cannot be reused.
	BodyUntilClose
)

// Response is a parsed upstream response head. Every byte slice aliases the
// head given to ParseResponse and is valid only as long as those bytes are.
// The caller owns the Response; ParseResponse overwrites every field and reuses
// the capacity of Fields.
type Response struct {
	Major, Minor int    // 1.1 or 1.0: other versions are refused
	Status       int    // 100 to 599
	Reason       []byte // the reason phrase, possibly empty
	Fields       []Field

	// ContentLength is the value of Content-Length, -1 when absent or when
	// the response is chunked. For a response to HEAD, or a 304, it is the
	// length the response announces, though no body follows.
	ContentLength int64
	Chunked       bool // Transfer-Encoding: chunked
	// BothLengths reports Content-Length and Transfer-Encoding together:
	// the chunked coding wins, Content-Length must not be forwarded, and
	// Close is set.
	BothLengths bool
	// Body says how to read the body.
	Body BodyKind
	// Close reports that the upstream connection cannot be reused after
	// this response: "Connection: close", HTTP/1.0 without keep-alive, a
	// body delimited by close, or BothLengths.
	Close bool

	HasConnection bool   // a Connection field is present: the fields it names are hop-by-hop
	ConnUpgrade   bool   // Connection lists "upgrade"
	Upgrade       []byte // the first Upgrade field's value, nil when absent
}

// Interim reports whether the response is an interim 1xx response other than
// 101: the final response to the same request follows it on the connection.
func (r *Response) Interim() bool {
	return r.Status >= 100 && r.Status < 200 && r.Status != 101
}

// ParseResponse parses the response head in head (as returned by
// Reader.ReadHead) into r. isHead says whether the request was HEAD, whose
// response has no body whatever its fields say. It never blocks and, once
// r.Fields has grown, never allocates. On error r holds partial results and the
// error is an *Error with Status 502. The rules are those of ParseRequest for
// field lines, plus: the status line is exactly "HTTP/1.x DDD[ reason]" with a
// status from 100 to 599; one Content-Length at most, digits only; a
// Transfer-Encoding must be a single "chunked" and is refused in HTTP/1.0.
func ParseResponse(head []byte, isHead bool, r *Response) error {
	*r = Response{Fields: r.Fields[:0], ContentLength: -1}
	i := bytes.IndexByte(head, '\n')
	if i < 1 || head[i-1] != '\r' {
		return errStatusLine
	}
	line := head[:i-1]
	if len(line) < 12 || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return errStatusLine
	}
	var ok bool
	if r.Major, r.Minor, ok, _ = parseVersion(line[:8]); !ok {
		return errRespVersion
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errStatusLine
		}
		r.Status = r.Status*10 + int(c-'0')
	}
	if r.Status < 100 || r.Status > 599 {
		return errStatusLine
	}
	if len(line) > 12 {
		r.Reason = line[13:]
		for _, c := range r.Reason {
			if class[c]&isValue == 0 {
				return errStatusLine
			}
		}
	} else {
		r.Reason = line[12:]
	}
	var err error
	if r.Fields, err = parseFields(head[i+1:], r.Fields, true); err != nil {
		return err
	}
	return r.frame(isHead)
}

// frame applies RFC 9112 §6.3 to the parsed fields.
func (r *Response) frame(isHead bool) error {
	var s framing
	for _, f := range r.Fields {
		s.note(f)
	}
	if s.codings > 0 {
		if r.Minor == 0 {
			return errRespCoding10
		}
		if s.codings > 1 || !EqualFold(s.coding, "chunked") {
			return errRespCoding
		}
		r.Chunked = true
	}
	if s.lengths > 1 {
		return errRespLengths
	}
	if s.lengths == 1 {
		n, ok := parseLength(s.length)
		if !ok {
			return errRespLength
		}
		if r.Chunked {
			r.BothLengths = true
		} else {
			r.ContentLength = n
		}
	}
	if r.Chunked && s.numTrailers > 0 && s.declaresFramingTrailer(r.Fields) {
		return errRespTrailerDec
	}
	switch {
	case isHead || r.Status < 200 || r.Status == 204 || r.Status == 304:
		r.Body = BodyNone
	case r.Chunked:
		r.Body = BodyChunked
	case r.ContentLength >= 0:
		r.Body = BodyLength
	default:
		r.Body = BodyUntilClose
	}
	r.Close = s.close || r.Minor == 0 && !s.keepAlive || r.BothLengths || r.Body == BodyUntilClose
	r.HasConnection, r.ConnUpgrade, r.Upgrade = s.connection, s.connUpgrade, s.upgrade
	return nil
}
