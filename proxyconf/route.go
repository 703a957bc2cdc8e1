package proxyconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// readRoutes reads every [[route]] table, resolving each against the global
// sections already in cfg. A file without any is refused: ferrum would
// answer every request 404, which is what a file truncated during a deploy
// looks like, so starting or reloading with it must fail loudly instead.
func readRoutes(root *table, cfg *Config) []Route {
	v, ok := root.value("route")
	list, isList := asList(v)
	switch {
	case ok && !isList:
		root.problem("route", "must be an array of tables, written [[route]], not %s", describe(v))
		return nil
	case len(list) == 0:
		root.problem("route", "no [[route]] defined; add at least one [[route]] with path_prefix and backends")
		return nil
	}
	routes := make([]Route, 0, len(list))
	prefixes := make(map[string]int, len(list)) // normalized path_prefix -> index of the route that has it
	for i, e := range list {
		m, isTable := e.(map[string]any)
		if !isTable {
			root.elemProblem("route", i, "must be a table, not "+describe(e))
			continue
		}
		routes = append(routes, readRoute(root.child("route", i, m), i, cfg, prefixes))
	}
	return routes
}

func readRoute(t *table, index int, cfg *Config, prefixes map[string]int) Route {
	defer t.done()
	r := Route{
		Balancing:         RoundRobin,
		HashKey:           HashKey{Source: HashClientIP},
		PreserveHost:      true,
		ClientBodyTimeout: cfg.Server.ClientBodyTimeout,
		Health:            cfg.Health,
		Retry:             cfg.Retry,
		Upstream:          cfg.Upstream,
	}
	// The route gets its own copy so that no two sections alias one array.
	r.Retry.RetryOnStatus = slices.Clone(cfg.Retry.RetryOnStatus)

	if t.require("path_prefix") {
		if s, ok := t.text("path_prefix"); ok {
			p, err := normalizePrefix(s)
			switch first, dup := prefixes[p]; {
			case err != nil:
				t.problem("path_prefix", "%v", err)
			case dup:
				t.problem("path_prefix", "%q is already route[%d]'s prefix", p, first)
			default:
				prefixes[p] = index
				r.PathPrefix = p
				t.accept("path_prefix")
			}
		}
	}
	r.Backends = readBackends(t)
	readBalancing(t, &r)
	t.boolean("strip_prefix", &r.StripPrefix)
	t.boolean("preserve_host", &r.PreserveHost)
	t.duration("client_body_timeout", &r.ClientBodyTimeout)
	readHealth(t.sub("health"), &r.Health)
	readRetry(t.sub("retry"), &r.Retry)
	readUpstream(t.sub("upstream"), &r.Upstream)
	return r
}

// normalizePrefix checks a path_prefix and trims its trailing "/". Dot
// segments are refused, also percent-encoded, because requests are matched
// after theirs are resolved: such a prefix could never match.
func normalizePrefix(s string) (string, error) {
	switch {
	case !strings.HasPrefix(s, "/"):
		return "", fmt.Errorf("%q must start with \"/\"", s)
	case strings.ContainsAny(s, "?#"):
		return "", fmt.Errorf("%q must not contain \"?\" or \"#\"; a prefix matches the path only", s)
	case strings.ContainsFunc(s, spaceOrControl):
		return "", fmt.Errorf("%q must not contain white space or control characters", s)
	case strings.Contains(s, "//"):
		return "", fmt.Errorf("%q must not contain an empty segment \"//\"", s)
	}
	for seg := range strings.SplitSeq(s, "/") {
		if dots := strings.ReplaceAll(strings.ToLower(seg), "%2e", "."); dots == "." || dots == ".." {
			return "", fmt.Errorf("%q must not contain the dot segment %q", s, seg)
		}
	}
	if s != "/" {
		s = strings.TrimSuffix(s, "/")
	}
	return s, nil
}

// readBackends reads the backends array, whose entries are URL strings or
// tables { url = "...", weight = N }, mixed as the file likes.
func readBackends(t *table) []Backend {
	const k = "backends"
	if !t.require(k) {
		return nil
	}
	v, _ := t.value(k)
	list, isList := asList(v)
	switch {
	case !isList:
		t.problem(k, `must be an array such as ["http://127.0.0.1:3001"], not %s`, describe(v))
		return nil
	case len(list) == 0:
		t.problem(k, "is empty; a route needs at least one backend")
		return nil
	}
	backends := make([]Backend, 0, len(list))
	var dups urlIndex
	for i, e := range list {
		b, ok := readBackend(t, i, e)
		if !ok {
			continue
		}
		if j, dup := dups.first(b.URL, i); dup {
			t.elemProblem(k, i, fmt.Sprintf("%s is already backends[%d]", b.URL, j))
			continue
		}
		backends = append(backends, b)
	}
	return backends
}

// urlIndex finds the first entry of a backends array with a given URL. Most
// routes have a handful of backends, which a scan of a few strings on the
// stack finds sooner than a map is even built; a long array gets the map.
type urlIndex struct {
	n     int             // URLs in urls
	urls  [maxScan]string // the first n URLs recorded
	index [maxScan]int    // index[m] is the entry that has urls[m]
	long  map[string]int  // URL -> entry, once there are more than maxScan
}

const maxScan = 8

// first returns the entry that has url when an earlier one does; otherwise it
// records url as entry i's.
func (x *urlIndex) first(url string, i int) (int, bool) {
	if x.long != nil {
		j, dup := x.long[url]
		if !dup {
			x.long[url] = i
		}
		return j, dup
	}
	if m := slices.Index(x.urls[:x.n], url); m >= 0 {
		return x.index[m], true
	}
	if x.n < maxScan {
		x.urls[x.n], x.index[x.n] = url, i
		x.n++
		return 0, false
	}
	x.long = make(map[string]int, 2*maxScan)
	for m, u := range x.urls {
		x.long[u] = x.index[m]
	}
	x.long[url] = i
	return 0, false
}

// readBackend reads entry i of t's backends array. It reports false when the
// entry has no usable URL.
func readBackend(t *table, i int, v any) (Backend, bool) {
	const k = "backends"
	switch v := v.(type) {
	case string:
		b, err := t.d.backendURL(v)
		if err != nil {
			t.elemProblem(k, i, err.Error())
			return Backend{}, false
		}
		return b, true
	case map[string]any:
		entry := t.child(k, i, v)
		defer entry.done()
		b, ok := Backend{Weight: 1}, false
		if s, isString := entry.text("url"); isString {
			parsed, err := t.d.backendURL(s)
			if err != nil {
				entry.problem("url", "%v", err)
			} else {
				b, ok = parsed, true
			}
		} else {
			entry.require("url")
		}
		integer(entry, "weight", &b.Weight, 1, 100)
		return b, ok
	}
	t.elemProblem(k, i, fmt.Sprintf(`must be a URL or a table such as { url = "http://127.0.0.1:3001", weight = 2 }, not %s`,
		describe(v)))
	return Backend{}, false
}

// backendURL is parseBackendURL remembering its answers for the rest of the
// Parse call: a large file names the same few backends in route after route.
func (d *decoder) backendURL(raw string) (Backend, error) {
	if p, ok := d.urls[raw]; ok {
		return p.b, p.err
	}
	b, err := parseBackendURL(raw)
	if d.urls == nil {
		d.urls = make(map[string]parsedURL)
	}
	d.urls[raw] = parsedURL{b, err}
	return b, err
}

// parsedURL is what parseBackendURL returned for one string.
type parsedURL struct {
	b   Backend
	err error
}

// parseBackendURL accepts http://host[:port] with at most a trailing "/" and
// returns the backend in normal form, weight 1.
func parseBackendURL(raw string) (Backend, error) {
	if !strings.Contains(raw, "://") {
		return Backend{}, fmt.Errorf("%q must start with http://", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Backend{}, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		return Backend{}, errors.New("https is not supported; terminate TLS in front of ferrum")
	case scheme == "":
		return Backend{}, fmt.Errorf("%q must start with http://", raw)
	case scheme != "http":
		return Backend{}, fmt.Errorf("scheme %q is not supported; backends are http:// URLs", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return Backend{}, fmt.Errorf("%q has no host; write it like http://127.0.0.1:3001", raw)
	case u.User != nil:
		return Backend{}, fmt.Errorf("%q must not carry user info", raw)
	case u.Path != "" && u.Path != "/" || u.RawPath != "":
		return Backend{}, fmt.Errorf("%q has a path; a backend is http://host:port and gets the request's own path", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return Backend{}, fmt.Errorf("%q must not have a query", raw)
	case strings.Contains(raw, "#"):
		return Backend{}, fmt.Errorf("%q must not have a fragment", raw)
	}
	port := u.Port()
	switch n, err := strconv.ParseUint(port, 10, 16); {
	case strings.HasSuffix(u.Host, ":"):
		return Backend{}, fmt.Errorf("%q has an empty port", raw)
	case port == "":
		port = "80"
	case err != nil || n == 0:
		return Backend{}, fmt.Errorf("%q: port %s is not in 1..65535", raw, port)
	default:
		port = strconv.FormatUint(n, 10) // drops leading zeros, so "0080" and "80" are one backend
	}
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String() // one spelling per address: "[::0001]" is "[::1]"
	}
	hostPort := net.JoinHostPort(host, port)
	// An IPv6 zone is written %25 in a URL but % when dialing.
	return Backend{URL: "http://" + strings.Replace(hostPort, "%", "%25", 1), Host: hostPort, Weight: 1}, nil
}

// readBalancing reads balancing and hash_key, which only consistent_hash uses.
func readBalancing(t *table, r *Route) {
	known := true
	if s, ok := t.text("balancing"); ok {
		switch b := Balancing(s); b {
		case RoundRobin, FirstHealthy, LeastRequests, ConsistentHash:
			r.Balancing = b
			t.accept("balancing")
		default:
			known = false
			t.problem("balancing", "%q is not one of round_robin, first_healthy, least_requests, consistent_hash", s)
		}
	}
	s, ok := t.text("hash_key")
	if !ok {
		return
	}
	k, err := parseHashKey(s)
	switch {
	case err != nil:
		t.problem("hash_key", "%v", err)
	case known && r.Balancing != ConsistentHash:
		t.problem("hash_key", "needs balancing = %q; this route uses %s", ConsistentHash, r.Balancing)
	default:
		r.HashKey = k
		t.accept("hash_key")
	}
}

// parseHashKey reads client_ip, header:NAME, cookie:NAME or query:NAME.
func parseHashKey(s string) (HashKey, error) {
	if s == string(HashClientIP) {
		return HashKey{Source: HashClientIP}, nil
	}
	src, name, _ := strings.Cut(s, ":")
	source := HashSource(src)
	switch {
	case source != HashHeader && source != HashCookie && source != HashQuery:
		return HashKey{}, fmt.Errorf("%q is not one of client_ip, header:NAME, cookie:NAME, query:NAME", s)
	case name == "":
		return HashKey{}, fmt.Errorf("%q needs a name after the colon, like \"%s:X-User-Id\"", s, src)
	case strings.ContainsFunc(name, spaceOrControl):
		return HashKey{}, fmt.Errorf("%q: the name must not contain white space or control characters", s)
	case source != HashQuery && !isToken(name):
		return HashKey{}, fmt.Errorf("%q: %q is not a valid %s name", s, name, src)
	}
	if source == HashHeader {
		name = textproto.CanonicalMIMEHeaderKey(name)
	}
	return HashKey{Source: source, Name: name}, nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of header and
// cookie names.
func isToken(s string) bool {
	for _, c := range []byte(s) {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}
