// Package headers holds ferrum's header hygiene for the request path:
// hop-by-hop removal, upgrade detection, X-Forwarded-* under
// server.trusted_proxies, and X-Request-Id.
//
// Everything here is pure and safe for concurrent use; the functions that
// take an http.Header read or modify only that header, which the caller owns.
// None allocates when the header needs no change.
package headers

import (
	"net/http"
	"strings"
)

// hopByHop lists, in canonical form, the headers that concern one
// connection only and never cross ferrum (RFC 9110 §7.6.1 plus the
// de-facto Keep-Alive and Proxy-Connection). TE is handled apart.
var hopByHop = [...]string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// RemoveHopByHop deletes from h, in place, the hop-by-hop headers: every
// header that Connection names (comma-separated tokens in any case, over any
// number of Connection lines), then Connection, Keep-Alive,
// Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, Trailer,
// Transfer-Encoding and Upgrade.
//
// TE goes too, except that a client that offered "trailers" keeps exactly
// "TE: trailers" (other codings it offered are dropped, as they concern
// this hop only); this holds even when Connection names TE, as RFC 9110
// §10.1.4 asks senders to do.
//
// It is used in both directions. For an upgrade, read UpgradeType before
// calling it and restore Connection and Upgrade afterwards; a header the
// caller must always send (X-Request-Id) is likewise set after it.
func RemoveHopByHop(h http.Header) {
	te := h["Te"]
	keepTE := hasToken(te, "trailers")
	if conn := h["Connection"]; namesOthers(conn) {
		// One pass over the keys, so a key stored in any case is found
		// without canonicalizing (and allocating) each token.
		for k := range h {
			if keepTE && strings.EqualFold(k, "te") {
				continue
			}
			if hasToken(conn, k) {
				delete(h, k)
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
	switch {
	case !keepTE:
		delete(h, "Te")
	case len(te) != 1 || te[0] != "trailers":
		h["Te"] = []string{"trailers"}
	}
}

// namesOthers reports whether the Connection lines name a header that the
// fixed list does not already remove. Most clients send only "keep-alive"
// or "upgrade", which then cost no pass over the header.
func namesOthers(conn []string) bool {
	for _, line := range conn {
		for line != "" {
			var tok string
			tok, line = nextToken(line)
			if tok != "" && !fixed(tok) {
				return true
			}
		}
	}
	return false
}

// fixed reports whether tok, in any case, is removed without being named:
// a hop-by-hop header or TE.
func fixed(tok string) bool {
	if strings.EqualFold(tok, "te") {
		return true
	}
	for _, k := range hopByHop {
		if strings.EqualFold(tok, k) {
			return true
		}
	}
	return false
}

// UpgradeType reports whether the request in h asks to switch protocols:
// Connection names "upgrade" (a token, any case, on any Connection line)
// and Upgrade is present. It returns the first non-empty Upgrade line,
// trimmed of white space and otherwise as sent ("websocket"), or "" when
// the request is not an upgrade.
func UpgradeType(h http.Header) string {
	if !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	for _, v := range h["Upgrade"] {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// hasToken reports whether any comma-separated element of lines, ignoring
// parameters after ";", equals token in any case.
func hasToken(lines []string, token string) bool {
	for _, line := range lines {
		for line != "" {
			var tok string
			tok, line = nextToken(line)
			if i := strings.IndexByte(tok, ';'); i >= 0 {
				tok = trimOWS(tok[:i])
			}
			if strings.EqualFold(tok, token) {
				return true
			}
		}
	}
	return false
}

// nextToken returns the first comma-separated element of s with optional
// white space trimmed, and the rest after the comma.
func nextToken(s string) (tok, rest string) {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return trimOWS(s[:i]), s[i+1:]
	}
	return trimOWS(s), ""
}

// trimOWS trims the optional white space of RFC 9110 §5.6.3: spaces and
// tabs.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
