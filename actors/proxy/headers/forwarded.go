// Package headers holds what the request path needs to say about a
// client beyond the wire itself: server.trusted_proxies and the client
// address they resolve from X-Forwarded-For, and X-Request-Id. The field
// hygiene of the heads ferrum forwards lives with the request path
// (actors/proxy), which works on field slices, not header maps.
//
// Everything here is pure and safe for concurrent use.
package headers

import (
	"net/netip"
	"strings"
)

// Trust holds server.trusted_proxies: the networks whose X-Forwarded-*
// headers ferrum believes and extends. Build it with NewTrust when the
// config loads; it is immutable, so any goroutine may use a copy. The zero
// Trust trusts no one.
type Trust struct {
	// prefixes are masked, with IPv4-mapped IPv6 networks written as IPv4
	// ones, so that Contains can compare unmapped addresses.
	prefixes []netip.Prefix
}

// NewTrust returns a Trust for prefixes. It copies the slice. Invalid
// prefixes are ignored (proxyconf rejects them); an IPv4-mapped IPv6
// network such as ::ffff:10.0.0.0/104 is taken as the IPv4 network
// 10.0.0.0/8.
func NewTrust(prefixes []netip.Prefix) Trust {
	ps := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		ps = append(ps, p.Masked())
	}
	return Trust{prefixes: ps}
}

// Contains reports whether a lies in a trusted network. An IPv4-mapped
// IPv6 address is checked as the IPv4 address it carries, and an IPv6 zone
// is ignored.
func (t Trust) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP resolves the client's address as server.trusted_proxies tell
// it, from the TCP peer and the request's X-Forwarded-For field values xff
// (in arrival order, each a comma-separated list). From an untrusted peer,
// X-Forwarded-For is ignored and the peer is the client. From a trusted
// peer, the elements are walked right to left, nearest hop first, and the
// first address outside the trusted networks is the client; if every one is
// trusted, the leftmost is. An element that is not an address (an address
// with a port, "1.2.3.4:80" or "[::1]:80", counts as its address) stops the
// walk, and the last good address, possibly the peer, is the client:
// nothing to the left of garbage can be believed. Empty elements are
// skipped.
//
// The result is unmapped and has no zone. It does not allocate.
func (t Trust) ClientIP(peer netip.Addr, xff [][]byte) netip.Addr {
	client := peer.Unmap().WithZone("")
	if !t.Contains(client) {
		return client
	}
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for len(line) > 0 {
			var elem []byte
			if j := lastIndexComma(line); j >= 0 {
				elem, line = line[j+1:], line[:j]
			} else {
				elem, line = line, nil
			}
			elem = trimOWSBytes(elem)
			if len(elem) == 0 {
				continue
			}
			a, ok := parseHopBytes(elem)
			if !ok {
				return client
			}
			client = a
			if !t.Contains(a) {
				return client
			}
		}
	}
	return client
}

func lastIndexComma(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ',' {
			return i
		}
	}
	return -1
}

func trimOWSBytes(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// parseHopBytes is parseHop on bytes. An IPv4 address (with or without a
// port), by far the most common element, is read here without a copy; the
// rest goes through parseHop as a string.
func parseHopBytes(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if len(b) > 64 {
		return netip.Addr{}, false
	}
	return parseHop(string(b))
}

// parseIPv4 reads "a.b.c.d" or "a.b.c.d:port" with decimal parts of at
// most three digits and no leading zeros, as netip does; ok is false for
// anything else (which parseHop then judges).
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	part, digits, val := 0, 0, 0
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && val == 0 || digits == 3 {
				return netip.Addr{}, false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && part < 3:
			ip[part] = byte(val)
			part, digits, val = part+1, 0, 0
		case c == ':':
			goto port
		default:
			return netip.Addr{}, false
		}
	}
port:
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(val)
	if i < len(b) {
		p := b[i+1:]
		if len(p) == 0 || len(p) > 5 {
			return netip.Addr{}, false
		}
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return netip.Addr{}, false
			}
			n = n*10 + int(c-'0')
		}
		if n > 65535 {
			return netip.Addr{}, false
		}
	}
	return netip.AddrFrom4(ip), true
}

// parseHop parses one X-Forwarded-For element: an address, or an address
// with a port. The result is unmapped and has no zone. The form is told
// from the text first, as a failed parse allocates its error: "[" starts
// an IPv6 address with a port, and a single ":" ends an IPv4 one.
func parseHop(s string) (netip.Addr, bool) {
	var a netip.Addr
	if s[0] == '[' || strings.Count(s, ":") == 1 {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}
