package wire

import "bytes"

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

const (
	// FormOrigin is "/path?query", the form of almost every request.
	FormOrigin TargetForm = iota
	// FormAbsolute is "http://host/path?query" (http or https only).
	FormAbsolute
	// FormAuthority is "host:port", accepted only with CONNECT.
	FormAuthority
	// FormAsterisk is "*", accepted only with OPTIONS.
	FormAsterisk
)

// Request is a parsed request head. Every byte slice aliases the head given
// to ParseRequest, so a Request is valid only as long as those bytes are (for
// a head from Reader.ReadHead: until the next call of a Reader method). The
// caller owns the Request; ParseRequest overwrites every field and reuses the
// capacity of Fields, so a Request kept per connection makes parsing
// allocation-free.
type Request struct {
	Method []byte // a token, case preserved ("get" is not "GET")
	Target []byte // the request-target exactly as sent
	Form   TargetForm
	// Authority is host[:port] from an absolute-form or authority-form
	// target, nil otherwise. RFC 9112 §3.2.2: when set it overrides Host.
	Authority []byte
	// PathQuery is the path and query to forward: the whole target in
	// origin-form, the part after the authority in absolute-form (possibly
	// empty, or starting with '?': the caller supplies the leading '/'),
	// nil for the other forms.
	PathQuery []byte

	Major, Minor int // 1.1 or 1.0: other versions are refused

	// Fields holds the field lines in arrival order, framing fields included.
	Fields []Field

	Host    []byte // the Host field's value (may be empty), nil when absent
	HasHost bool   // a Host field was present

	// ContentLength is the body length from Content-Length, or -1 when the
	// request has none or is chunked. A request with neither has no body.
	ContentLength int64
	Chunked       bool // Transfer-Encoding: chunked; the body is chunked
	// BothLengths reports that Content-Length and Transfer-Encoding were
	// both sent: the chunked coding decides the body and Content-Length
	// must not be forwarded. Such a request also sets Close, because a
	// peer that sends both may frame the next request differently.
	BothLengths bool
	// Close reports that the connection must close after the response:
	// "Connection: close", HTTP/1.0 without "Connection: keep-alive", or
	// BothLengths.
	Close bool

	ExpectContinue bool // Expect: 100-continue in an HTTP/1.1 request
	ExpectOther    bool // an Expect field with another value (answer 417)

	// HasConnection reports a Connection field: the fields it names are
	// hop-by-hop and must not be forwarded.
	HasConnection bool
	ConnUpgrade   bool   // Connection lists "upgrade"
	Upgrade       []byte // the first Upgrade field's value; nil when absent or HTTP/1.0 (RFC 9110 §7.8)
}

// HostValue returns the host the request is for: Authority when the target
// carries one, the Host field otherwise. The result aliases the head.
func (r *Request) HostValue() []byte {
	if r.Authority != nil {
		return r.Authority
	}
	return r.Host
}

// ParseRequest parses the request head in head (as returned by
// Reader.ReadHead: through the empty line that ends it, nothing after) into r.
// It never blocks and, once r.Fields has grown to the number of fields seen,
// never allocates. On error r holds partial results and the error is an *Error
// whose Status is the answer to send (400, 501 or 505); on success the request
// is unambiguous: its body framing is exactly one of none, Content-Length or
// chunked. See the package documentation for the rules.
func ParseRequest(head []byte, r *Request) error {
	*r = Request{Fields: r.Fields[:0], ContentLength: -1}
	i := bytes.IndexByte(head, '\n')
	if i < 1 || head[i-1] != '\r' {
		return errRequestLine
	}
	line := head[:i-1]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return errRequestLine
	}
	method, rest := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return errRequestLine
	}
	target, version := rest[:sp], rest[sp+1:]
	var ok, wellFormed bool
	r.Major, r.Minor, ok, wellFormed = parseVersion(version)
	if !ok {
		if wellFormed {
			return errVersionNS
		}
		return errVersion
	}
	if !isTokenBytes(method) {
		return errMethod
	}
	r.Method, r.Target = method, target
	if err := parseTarget(r); err != nil {
		return err
	}
	var err error
	if r.Fields, err = parseFields(head[i+1:], r.Fields, false); err != nil {
		return err
	}
	return r.frame()
}

// frame applies the rules on Host, Content-Length, Transfer-Encoding and
// Connection to the parsed fields.
func (r *Request) frame() error {
	var s framing
	for _, f := range r.Fields {
		s.note(f)
	}
	switch {
	case s.hosts > 1:
		return errManyHosts
	case s.hosts == 1:
		if len(s.host) > 0 && !validAuthority(s.host, false) {
			return errBadHost
		}
		r.Host, r.HasHost = s.host, true
	case r.Minor == 1:
		return errNoHost
	}
	if s.codings > 0 {
		if r.Minor == 0 {
			return errCoding10
		}
		if s.codings > 1 || !EqualFold(s.coding, "chunked") {
			return errCoding
		}
		r.Chunked = true
	}
	if s.lengths > 1 {
		return errManyLengths
	}
	if s.lengths == 1 {
		n, ok := parseLength(s.length)
		if !ok {
			return errBadLength
		}
		if r.Chunked {
			r.BothLengths = true
		} else {
			r.ContentLength = n
		}
	}
	if r.Chunked && s.numTrailers > 0 && s.declaresFramingTrailer(r.Fields) {
		return errTrailerDecl
	}
	r.Close = s.close || r.Minor == 0 && !s.keepAlive || r.BothLengths
	r.ExpectContinue = s.expect && r.Minor == 1
	r.ExpectOther = s.expectOther
	r.HasConnection, r.ConnUpgrade = s.connection, s.connUpgrade
	if r.Minor == 1 {
		r.Upgrade = s.upgrade
	}
	return nil
}

// parseTarget checks r.Target against r.Method and sets Form, Authority and
// PathQuery. Origin-form and absolute-form go with any method but CONNECT,
// which takes authority-form only; "*" goes with OPTIONS only.
func parseTarget(r *Request) error {
	t := r.Target
	if len(t) == 0 {
		return errRequestLine
	}
	connect := string(r.Method) == "CONNECT"
	switch {
	case t[0] == '/':
		if connect {
			return errTargetForm
		}
		if !validPathQuery(t) {
			return errTarget
		}
		r.Form, r.PathQuery = FormOrigin, t
	case len(t) == 1 && t[0] == '*':
		if string(r.Method) != "OPTIONS" {
			return errTargetForm
		}
		r.Form = FormAsterisk
	case connect:
		if !validAuthority(t, true) {
			return errTarget
		}
		r.Form, r.Authority = FormAuthority, t
	default:
		var rest []byte
		switch {
		case len(t) > 7 && EqualFold(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && EqualFold(t[:8], "https://"):
			rest = t[8:]
		default:
			return errTarget
		}
		end := 0
		for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
			end++
		}
		if !validAuthority(rest[:end], false) || !validPathQuery(rest[end:]) {
			return errTarget
		}
		r.Form, r.Authority, r.PathQuery = FormAbsolute, rest[:end], rest[end:]
	}
	return nil
}

// validPathQuery reports whether b, a path optionally followed by "?query",
// holds only visible ASCII other than '#', and whether every '%' in the path
// starts a percent-encoded octet.
func validPathQuery(b []byte) bool {
	inPath := true
	for i, c := range b {
		if class[c]&isTarget == 0 {
			return false
		}
		switch {
		case c == '?':
			inPath = false
		case c == '%' && inPath:
			if i+2 >= len(b) || class[b[i+1]]&isHex == 0 || class[b[i+2]]&isHex == 0 {
				return false
			}
		}
	}
	return true
}

// validAuthority reports whether a is host[:port] with a non-empty host that
// is an IPv6 literal in brackets or made of letters, digits, '-', '.', '_'
// and '~', and a port of digits (required when needPort is set). Userinfo,
// percent-encoding and other sub-delims are refused.
func validAuthority(a []byte, needPort bool) bool {
	var port []byte
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 || !validIPv6(a[1:end]) {
			return false
		}
		port = a[end+1:]
	} else {
		end := 0
		for end < len(a) && class[a[end]]&isHost != 0 {
			end++
		}
		if end == 0 {
			return false
		}
		port = a[end:]
	}
	if len(port) == 0 {
		return !needPort
	}
	if port[0] != ':' || needPort && len(port) == 1 {
		return false
	}
	for _, c := range port[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validIPv6 reports whether s is an IPv6 address in the text form of RFC 4291
// §2.2 (without a zone): eight groups of one to four hex digits, or fewer
// with exactly one "::" standing for at least one group, the last 32 bits
// optionally written as a dotted quad.
func validIPv6(s []byte) bool {
	groups, ellipsis, i := 0, false, 0
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, i = true, 2
	}
	for i < len(s) {
		j := i
		for j < len(s) && j-i < 5 && class[s[j]]&isHex != 0 {
			j++
		}
		if j < len(s) && s[j] == '.' {
			if !validIPv4(s[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		i = j
		if i == len(s) {
			break
		}
		if s[i] != ':' || i+1 == len(s) {
			return false
		}
		i++
		if s[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

// validIPv4 reports whether s is a dotted quad of decimal numbers 0 to 255
// without leading zeros.
func validIPv4(s []byte) bool {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
		n, v := 0, 0
		for n < len(s) && n < 4 && s[n] >= '0' && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || n > 1 && s[0] == '0' {
			return false
		}
		s = s[n:]
	}
	return len(s) == 0
}
