// Package pathx turns the request-target a client sent into the path ferrum
// routes on and forwards: it splits off the query, resolves dot-segments and
// nothing else, finds the route by longest whole-segment prefix, and strips a
// route's prefix.
//
// Every function here is pure, safe for concurrent use, and runs once per
// request; none allocates when its input needs no change.
package pathx

import "strings"

// SplitTarget splits a request-target as ferrum received it
// (http.Request.RequestURI) into the escaped path and the raw query, without
// the "?". hasQuery tells a "?" followed by nothing apart from no "?" at all,
// so the query is forwarded exactly as sent.
//
// Two forms are accepted: origin-form ("/p?q") and absolute-form
// ("http://host/p?q", scheme http or https in any case, non-empty authority).
// An absolute-form target with an empty path ("http://host" or
// "http://host?q") yields the path "/", as RFC 9110 §4.2.3 makes them
// equivalent. ok is false for anything else: "*", authority-form, an empty
// target, or one whose path does not start with "/".
//
// The path is returned byte-for-byte as sent (a substring of target); the
// caller resolves dot-segments with Normalize.
func SplitTarget(target string) (path, query string, hasQuery, ok bool) {
	rest := target
	if !strings.HasPrefix(rest, "/") {
		after, isAbs := cutScheme(rest)
		if !isAbs {
			return "", "", false, false
		}
		// The authority ends at the path, the query, or the end.
		end := strings.IndexAny(after, "/?")
		if end < 0 {
			end = len(after)
		}
		if end == 0 {
			return "", "", false, false
		}
		rest = after[end:]
		if rest == "" || rest[0] == '?' {
			path = "/"
		}
	}
	q := strings.IndexByte(rest, '?')
	if q >= 0 {
		query, hasQuery = rest[q+1:], true
		rest = rest[:q]
	}
	if path == "" {
		path = rest
	}
	return path, query, hasQuery, true
}

// cutScheme reports whether s starts with "http://" or "https://" (scheme
// in any case) and returns what follows the "//".
func cutScheme(s string) (after string, ok bool) {
	if len(s) >= 7 && strings.EqualFold(s[:7], "http://") {
		return s[7:], true
	}
	if len(s) >= 8 && strings.EqualFold(s[:8], "https://") {
		return s[8:], true
	}
	return "", false
}

// dot classifies one path segment (without its slashes): 1 for ".", 2 for
// "..", 0 for anything else. Each dot may be written ".", "%2e" or "%2E".
func dot(seg string) int {
	n := 0
	for seg != "" {
		switch {
		case seg[0] == '.':
			seg = seg[1:]
		case len(seg) >= 3 && seg[0] == '%' && seg[1] == '2' && (seg[2] == 'e' || seg[2] == 'E'):
			seg = seg[3:]
		default:
			return 0
		}
		n++
		if n > 2 {
			return 0
		}
	}
	return n
}

// stackPath is the longest normalized path built in a stack buffer; longer
// ones get a heap buffer. Either way the result costs one string allocation.
const stackPath = 256

// Normalize resolves the "." and ".." segments of an escaped path as
// RFC 3986 §5.2.4 does, also when a dot is written %2e or %2E (in any mix,
// such as "%2e%2E" or ".%2e"). Nothing else changes: "%2F" is not a
// separator (so "a%2F.." is one ordinary segment), "//" is not collapsed,
// and all other percent-encoding is kept as sent.
//
// ok is false when the path would climb above "/" ("/..", "/a/../..") or
// does not start with "/". A path without dot-segments is returned as is,
// without allocating; otherwise the result is a new string no longer than
// the input. A trailing dot-segment leaves a trailing "/": "/a/b/.." is
// "/a/".
func Normalize(escapedPath string) (out string, ok bool) {
	p := escapedPath
	if p == "" || p[0] != '/' {
		return "", false
	}
	// Find the first dot-segment; most paths have none.
	start := 1
	for {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		if dot(p[start:end]) != 0 {
			break
		}
		if end == len(p) {
			return p, true
		}
		start = end + 1
	}

	// The output is "/" seg "/" seg ..., so dropping the last segment is
	// cutting at its last "/", and an empty output means nothing is left to
	// climb out of.
	var stack [stackPath]byte
	var b []byte
	if len(p) <= stackPath {
		b = stack[:0]
	} else {
		b = make([]byte, 0, len(p))
	}
	b = append(b, p[:start-1]...)
	for {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		seg, last := p[start:end], end == len(p)
		switch dot(seg) {
		case 0:
			b = append(b, '/')
			b = append(b, seg...)
		case 1:
			if last {
				b = append(b, '/')
			}
		case 2:
			if len(b) == 0 {
				return "", false
			}
			b = b[:lastSlash(b)]
			if last {
				b = append(b, '/')
			}
		}
		if last {
			return string(b), true
		}
		start = end + 1
	}
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return 0
}

// StripPrefix removes a route prefix that Matcher matched on path, leaving
// the path the backend sees: ("/api/users", "/api") is "/users",
// ("/api", "/api") and ("/api/", "/api") are "/". With the catch-all prefix
// "/", or a prefix that does not match path on a segment boundary, path is
// returned unchanged. It never allocates.
func StripPrefix(path, prefix string) string {
	if prefix == "/" || !strings.HasPrefix(path, prefix) {
		return path
	}
	rest := path[len(prefix):]
	switch {
	case rest == "":
		return "/"
	case rest[0] != '/':
		return path
	}
	return rest
}
