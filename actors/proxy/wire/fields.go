package wire

import (
	"bytes"
	"math"
)

// Field is one field line of a head, in the order it arrived. Name is the
// field name as sent (not canonicalised); Value has its surrounding spaces and
// tabs removed. Both alias the head passed to ParseRequest or ParseResponse.
type Field struct {
	Name  []byte
	Value []byte
}

// parseFields parses the field lines at the start of b, which must end with
// the empty line that closes the head and hold nothing after it, and appends
// them to fields. Every line must end with CRLF; names are tokens followed at
// once by a colon; values hold only field-vchar, obs-text, SP and HTAB;
// obsolete line folding is refused. resp selects the error set.
func parseFields(b []byte, fields []Field, resp bool) ([]Field, error) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return fields, fieldErr(faultUnterminated, resp)
		}
		if i == 0 || b[i-1] != '\r' {
			return fields, fieldErr(faultBareLF, resp)
		}
		line := b[:i-1]
		b = b[i+1:]
		if len(line) == 0 {
			if len(b) != 0 {
				return fields, fieldErr(faultTrailing, resp)
			}
			return fields, nil
		}
		f, fault, ok := parseFieldLine(line)
		if !ok {
			return fields, fieldErr(fault, resp)
		}
		fields = append(fields, f)
	}
}

// parseFieldLine parses one field line without its CRLF.
func parseFieldLine(line []byte) (Field, fieldFault, bool) {
	if line[0] == ' ' || line[0] == '\t' {
		return Field{}, faultObsFold, false
	}
	colon := 0
	for colon < len(line) && class[line[colon]]&isToken != 0 {
		colon++
	}
	if colon == 0 || colon == len(line) || line[colon] != ':' {
		return Field{}, faultName, false
	}
	v := line[colon+1:]
	for _, c := range v {
		if class[c]&isValue == 0 {
			return Field{}, faultValue, false
		}
	}
	return Field{Name: line[:colon], Value: trimOWS(v)}, 0, true
}

// framing gathers, while the fields are walked once, what ferrum needs to
// know about the fields that decide framing and connection handling.
type framing struct {
	hosts       int
	host        []byte
	lengths     int
	length      []byte
	codings     int
	coding      []byte
	connection  bool
	close       bool
	keepAlive   bool
	connUpgrade bool
	upgrade     []byte
	expect      bool
	expectOther bool
	trailers    [4][]byte // the first few Trailer values, checked when chunked
	numTrailers int
}

// note records f if its name is one framing cares about. The name's length
// is switched on first so that most fields cost no comparison at all.
func (s *framing) note(f Field) {
	n := f.Name
	switch len(n) {
	case 4:
		if EqualFold(n, "host") {
			s.hosts++
			if s.hosts == 1 {
				s.host = f.Value
			}
		}
	case 6:
		if EqualFold(n, "expect") {
			if EqualFold(f.Value, "100-continue") {
				s.expect = true
			} else {
				s.expectOther = true
			}
		}
	case 7:
		switch {
		case EqualFold(n, "upgrade"):
			if s.upgrade == nil {
				s.upgrade = f.Value
			}
		case EqualFold(n, "trailer"):
			if s.numTrailers < len(s.trailers) {
				s.trailers[s.numTrailers] = f.Value
			}
			s.numTrailers++
		}
	case 10:
		if EqualFold(n, "connection") {
			s.connection = true
			s.close = s.close || ContainsToken(f.Value, "close")
			s.keepAlive = s.keepAlive || ContainsToken(f.Value, "keep-alive")
			s.connUpgrade = s.connUpgrade || ContainsToken(f.Value, "upgrade")
		}
	case 14:
		if EqualFold(n, "content-length") {
			s.lengths++
			s.length = f.Value
		}
	case 17:
		if EqualFold(n, "transfer-encoding") {
			s.codings++
			s.coding = f.Value
		}
	}
}

// declaresFramingTrailer reports whether a Trailer field announces one of the
// fields that must never arrive as a trailer because they decide framing.
// fields is walked again only in the rare case of more Trailer fields than
// framing keeps.
func (s *framing) declaresFramingTrailer(fields []Field) bool {
	if s.numTrailers > len(s.trailers) {
		for _, f := range fields {
			if EqualFold(f.Name, "trailer") && namesFramingField(f.Value) {
				return true
			}
		}
		return false
	}
	for _, v := range s.trailers[:s.numTrailers] {
		if namesFramingField(v) {
			return true
		}
	}
	return false
}

// namesFramingField reports whether the list v names Content-Length,
// Transfer-Encoding or Trailer.
func namesFramingField(v []byte) bool {
	return ContainsToken(v, "content-length") ||
		ContainsToken(v, "transfer-encoding") ||
		ContainsToken(v, "trailer")
}

// parseLength parses a Content-Length value: one or more digits, nothing
// else, fitting an int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseVersion parses "HTTP/1.1" or "HTTP/1.0". wellFormed reports whether v
// has the shape HTTP/DIGIT.DIGIT, which, for another version, earns a 505
// rather than a 400.
func parseVersion(v []byte) (major, minor int, ok, wellFormed bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false, false
	}
	major, minor = int(v[5]-'0'), int(v[7]-'0')
	return major, minor, major == 1 && minor <= 1, true
}
