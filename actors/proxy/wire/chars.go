package wire

// Byte classes, one bit each, looked up in a single table so that the hot
// loops cost one load and one test per byte.
const (
	isToken  = 1 << iota // tchar (RFC 9110 §5.6.2)
	isValue              // field-vchar, obs-text, SP or HTAB (RFC 9110 §5.5)
	isTarget             // a byte ferrum accepts in a request-target
	isHost               // a byte ferrum accepts in a reg-name host
	isHex                // HEXDIG
	isQdtext             // qdtext of a quoted-string (RFC 9110 §5.6.4)
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if alnum {
			t[c] |= isToken | isHost
		}
		switch b {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			t[c] |= isToken
		}
		switch b {
		case '-', '.', '_', '~':
			t[c] |= isHost
		}
		if b > 0x20 && b < 0x7f || b >= 0x80 || b == ' ' || b == '\t' {
			t[c] |= isValue
		}
		// The request-target is visible ASCII. A fragment is never part of
		// it, so '#' is refused; bytes above 0x7e are not URI characters
		// and would let ferrum and a backend disagree about a path.
		if b > 0x20 && b < 0x7f && b != '#' {
			t[c] |= isTarget
		}
		if '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' {
			t[c] |= isHex
		}
		if b == '\t' || b == ' ' || b == 0x21 || b >= 0x23 && b <= 0x5b || b >= 0x5d && b <= 0x7e || b >= 0x80 {
			t[c] |= isQdtext
		}
	}
	return t
}()

// lower maps ASCII upper-case letters to lower case and every other byte to
// itself.
var lower = func() (t [256]byte) {
	for c := range t {
		t[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

// EqualFold reports whether b and s are equal under ASCII case folding. Bytes
// outside ASCII compare exactly. It never allocates.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower[b[i]] != lower[s[i]] {
			return false
		}
	}
	return true
}

// ContainsToken reports whether the comma-separated list v (a field value such
// as Connection's) has an element equal to token under ASCII case folding,
// ignoring optional white space around elements. token is ASCII. It never
// allocates.
func ContainsToken(v []byte, token string) bool {
	for len(v) > 0 {
		end := 0
		for end < len(v) && v[end] != ',' {
			end++
		}
		if EqualFold(trimOWS(v[:end]), token) {
			return true
		}
		if end == len(v) {
			break
		}
		v = v[end+1:]
	}
	return false
}

// AppendCanonical appends the canonical form of field name to dst and returns
// the extended slice: the first letter and every letter after a hyphen upper
// case, the others lower case ("content-length" becomes "Content-Length"). A
// name that is not a token is appended unchanged. It allocates only when dst
// must grow.
func AppendCanonical(dst, name []byte) []byte {
	for _, c := range name {
		if class[c]&isToken == 0 {
			return append(dst, name...)
		}
	}
	upper := true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// trimOWS returns v without leading and trailing spaces and tabs.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// isTokenBytes reports whether b is a non-empty token.
func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if class[c]&isToken == 0 {
			return false
		}
	}
	return true
}
