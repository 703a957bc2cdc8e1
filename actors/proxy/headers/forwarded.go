package headers

import (
	"net/http"
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
// it. From an untrusted peer, X-Forwarded-For is ignored and the peer is
// the client. From a trusted peer, the X-Forwarded-For elements (all lines
// in order, each comma-separated) are walked right to left, nearest hop
// first, and the first address outside the trusted networks is the client;
// if every one is trusted, the leftmost is. An element that is not an
// address (an address with a port, "1.2.3.4:80" or "[::1]:80", counts as
// its address) stops the walk, and the last good address, possibly the
// peer, is the client: nothing to the left of garbage can be believed.
// Empty elements are skipped.
//
// The result is unmapped and has no zone. It does not allocate.
func (t Trust) ClientIP(peer netip.Addr, h http.Header) netip.Addr {
	client := peer.Unmap().WithZone("")
	if !t.Contains(client) {
		return client
	}
	lines := h["X-Forwarded-For"]
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var elem string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				elem, line = line[j+1:], line[:j]
			} else {
				elem, line = line, ""
			}
			elem = trimOWS(elem)
			if elem == "" {
				continue
			}
			a, ok := parseHop(elem)
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

// ClientIPOf is ClientIP for a request whose X-Forwarded-For field values
// are xff, in arrival order (fields as parsed off the wire, not yet joined).
// It does not allocate.
func (t Trust) ClientIPOf(peer netip.Addr, xff [][]byte) netip.Addr {
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

// parseHopBytes is parseHop on bytes. netip parses only strings; an
// address is short, so it is copied into a stack buffer first.
func parseHopBytes(b []byte) (netip.Addr, bool) {
	if len(b) > 64 {
		return netip.Addr{}, false
	}
	var buf [64]byte
	n := copy(buf[:], b)
	return parseHop(string(buf[:n]))
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

// The headers SetForwarded writes, in canonical form.
const (
	xff   = "X-Forwarded-For"
	xfp   = "X-Forwarded-Proto"
	xfh   = "X-Forwarded-Host"
	fwd   = "Forwarded"
	xfAny = "X-Forwarded-"
)

// SetForwarded rewrites the forwarding headers of out, the outbound
// request's header already copied from the client's, for a request that
// reached ferrum from peer over proto ("http") with the client's Host
// host. peerTrusted is Trust.Contains(peer).
//
// From an untrusted peer nothing it claims is kept: every X-Forwarded-*
// header and Forwarded are removed, then X-Forwarded-For is the peer,
// X-Forwarded-Proto is proto and X-Forwarded-Host is host (either left out
// when empty). From a trusted peer, X-Forwarded-For becomes its lines
// joined into one, followed by ", " and the peer; X-Forwarded-Proto,
// X-Forwarded-Host and Forwarded are kept, the first two set from proto and
// host only when absent. ferrum never writes Forwarded itself.
//
// The peer is written unmapped and without a zone. It costs a few small
// allocations: the values written and their slices.
func SetForwarded(out http.Header, peer netip.Addr, peerTrusted bool, proto, host string) {
	addr := peer.Unmap().WithZone("").String()
	if !peerTrusted {
		for k := range out {
			if len(k) >= len(xfAny) && strings.EqualFold(k[:len(xfAny)], xfAny) || strings.EqualFold(k, fwd) {
				delete(out, k)
			}
		}
	}
	// One backing array for the three values; each slice is capped so an
	// append by a later Add reallocates rather than writing over the next.
	vals := make([]string, 3)
	vals[0] = addr
	if peerTrusted {
		vals[0] = joinXFF(out[xff], addr)
	}
	out[xff] = vals[0:1:1]
	if proto != "" && !present(out[xfp]) {
		vals[1] = proto
		out[xfp] = vals[1:2:2]
	}
	if host != "" && !present(out[xfh]) {
		vals[2] = host
		out[xfh] = vals[2:3:3]
	}
}

// present reports whether a header has a non-empty line.
func present(lines []string) bool {
	for _, l := range lines {
		if trimOWS(l) != "" {
			return true
		}
	}
	return false
}

// joinXFF joins the non-empty X-Forwarded-For lines and addr with ", ",
// in one allocation.
func joinXFF(lines []string, addr string) string {
	n := len(addr)
	for _, l := range lines {
		if l = trimOWS(l); l != "" {
			n += len(l) + 2
		}
	}
	if n == len(addr) {
		return addr
	}
	var b strings.Builder
	b.Grow(n)
	for _, l := range lines {
		if l = trimOWS(l); l != "" {
			b.WriteString(l)
			b.WriteString(", ")
		}
	}
	b.WriteString(addr)
	return b.String()
}
