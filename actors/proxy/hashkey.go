package proxy

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/cespare/xxhash/v2"

	"ferrum/proxyconf"
)

// hashKey hashes the request's consistent_hash key once; ok is false when the
// route does not hash or the request has no (or an empty) key. It allocates
// nothing.
func (p *Proxy) hashKey(r *http.Request, rt *route) (uint64, bool) {
	if rt.conf.Balancing != proxyconf.ConsistentHash {
		return 0, false
	}
	k := rt.conf.HashKey
	switch k.Source {
	case proxyconf.HashClientIP:
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return 0, false
		}
		a := p.table.Load().trust.ClientIP(ap.Addr().Unmap(), r.Header).As16()
		return xxhash.Sum64(a[:]), true
	case proxyconf.HashHeader:
		if v := r.Header[k.Name]; len(v) > 0 && v[0] != "" {
			return xxhash.Sum64String(v[0]), true
		}
	case proxyconf.HashCookie:
		if v := cookieValue(r.Header["Cookie"], k.Name); v != "" {
			return xxhash.Sum64String(v), true
		}
	case proxyconf.HashQuery:
		if v := queryValue(r.URL.RawQuery, k.Name); v != "" {
			return xxhash.Sum64String(v), true
		}
	}
	return 0, false
}

// cookieValue finds cookie name in Cookie header lines without parsing the
// rest ("a=1; b=2").
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if n, v, ok := strings.Cut(part, "="); ok && n == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// queryValue finds parameter name in a raw query; the value is hashed as
// sent, percent-encoding and all.
func queryValue(raw, name string) string {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if n, v, ok := strings.Cut(part, "="); ok && n == name {
			return v
		}
	}
	return ""
}
