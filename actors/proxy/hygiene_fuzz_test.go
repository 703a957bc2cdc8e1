package proxy

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ferrum/actors/proxy/headers"
	"ferrum/actors/proxy/pathx"
	"ferrum/actors/proxy/wire"
	"ferrum/proxyconf"
)

// These tests hold ferrum's header hygiene to the contract's Forwarding
// rules from the outside: each head ferrum builds is parsed again and
// compared with a model written here, independently of fields.go.

// hygSetup is how one request meets ferrum: whether its peer lies inside
// server.trusted_proxies, the route's preserve_host and strip_prefix, and
// whether the peer is an IPv6 one.
type hygSetup struct {
	trusted, preserveHost, stripPrefix, v6 bool
}

// hygSetupOf spreads the low four bits of sel over a hygSetup.
func hygSetupOf(sel byte) hygSetup {
	return hygSetup{trusted: sel&1 != 0, preserveHost: sel&2 != 0, stripPrefix: sel&4 != 0, v6: sel&8 != 0}
}

func (s hygSetup) String() string {
	return fmt.Sprintf("trusted=%v preserve_host=%v strip_prefix=%v v6=%v", s.trusted, s.preserveHost, s.stripPrefix, s.v6)
}

var (
	// hygTrust is server.trusted_proxies for every test here.
	hygTrust = headers.NewTrust([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	// hygPeers are the client addresses, by [v6][trusted].
	hygPeers = [2][2]netip.Addr{
		{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("10.1.2.3")},
		{netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("fd00::3")},
	}
	// hygLengths are the bodies each upstream head is built for: chunked,
	// hygBodyLength bytes, and none.
	hygLengths = [3]int64{-1, hygBodyLength, 0}
)

const (
	hygPrefix      = "/api"
	hygBackendHost = "10.9.9.9:8080"
	hygBodyLength  = 5
)

func hygBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hygUpstream is one client request head taken through the request path up
// to the bytes a backend would get.
type hygUpstream struct {
	in      wire.Request // the client's head, parsed from bytes nothing overwrites
	setup   hygSetup
	peer    string // the client's address as X-Forwarded-For writes it
	id      string // the request id ferrum chose
	target  string // the request-target the backend must get
	upgrade []byte // the Upgrade value carried on; nil unless a tunnel is asked for
	// heads are the attempt heads, one for each of hygLengths.
	heads [3][]byte
}

// hygBuild takes head through exchange's steps up to the attempt heads.
// ok is false when ferrum answers head itself (400, 417) instead of
// forwarding it.
func hygBuild(tb testing.TB, head []byte, s hygSetup) (u *hygUpstream, ok bool) {
	tb.Helper()
	u = &hygUpstream{setup: s}
	if wire.ParseRequest(head, &u.in) != nil {
		return nil, false
	}
	client, far := net.Pipe()
	defer far.Close()
	cc := newClientConn(&Proxy{}, client)
	defer cc.finish()
	cc.peer = hygPeers[hygBit(s.v6)][hygBit(s.trusted)]
	cc.peerText = cc.peer.AppendTo(nil)
	u.peer = string(cc.peerText)

	// The connection's own copy of the head: reading the body may
	// overwrite it once the upstream head is built, and buf is
	// scribbled over below to hold ferrum to that.
	buf := bytes.Clone(head)
	req, r := &cc.req, &cc.r
	if err := wire.ParseRequest(buf, req); err != nil {
		tb.Fatalf("ParseRequest accepted a head and refused its copy: %v", err)
	}
	r.method = methodIndex(req.Method)
	cc.setRequestID()
	r.body.reset(cc, req)
	if !cc.splitTarget() || req.ExpectOther {
		return nil, false
	}
	u.id = string(cc.idBuf)
	u.target = r.path
	if s.stripPrefix {
		u.target = pathx.StripPrefix(u.target, hygPrefix)
	}
	if r.hasQuery {
		u.target += "?" + r.query
	}
	var upgrade []byte
	if req.ConnUpgrade && len(req.Upgrade) > 0 && !r.body.present() {
		upgrade, u.upgrade = req.Upgrade, u.in.Upgrade
	}

	t := &Table{trust: hygTrust}
	rt := &route{conf: &proxyconf.Route{PathPrefix: hygPrefix, StripPrefix: s.stripPrefix, PreserveHost: s.preserveHost}}
	b := &upstream{url: "http://" + hygBackendHost, host: hygBackendHost}
	cc.buildUpstreamHead(t, rt, upgrade)
	first := bytes.Clone(cc.upReq)
	for i := range buf {
		buf[i] = 'x'
	}
	for i, n := range hygLengths {
		u.heads[i] = bytes.Clone(cc.attemptHead(rt, b, n))
	}

	// The buffers are the connection's, reused by its next request: the
	// same head must give the same bytes again.
	copy(buf, head)
	if err := wire.ParseRequest(buf, req); err != nil {
		tb.Fatalf("ParseRequest refused a head it accepted before: %v", err)
	}
	cc.buildUpstreamHead(t, rt, upgrade)
	if !bytes.Equal(cc.upReq, first) {
		tb.Fatalf("the same head built twice on one connection differs:\n%q\n%q", first, cc.upReq)
	}
	return u, true
}

// hygOwnRequest are the fields ferrum writes on a request itself, each
// checked by its own rule; every other field is passed on or dropped.
var hygOwnRequest = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "te": true,
	"connection": true, "upgrade": true, "x-request-id": true,
	"x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true,
}

// hygOwnResponse are the fields ferrum writes on an answer itself.
var hygOwnResponse = map[string]bool{
	"content-length": true, "transfer-encoding": true, "connection": true, "x-request-id": true,
}

// hygHop are the fields never passed on in either direction besides those
// ferrum writes: the hop-by-hop ones of RFC 9110 §7.6.1, Proxy-Connection,
// and on requests Expect, which ferrum answers itself.
var hygHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "proxy-authenticate": true,
	"proxy-authorization": true, "te": true, "trailer": true, "transfer-encoding": true,
	"upgrade": true, "expect": true,
}

// hygLower folds ASCII only, as field names and Connection tokens compare;
// strings.ToLower would fold the Kelvin sign to "k".
func hygLower(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// hygList splits a comma-separated field value into its trimmed, non-empty
// elements, folded to lower case.
func hygList(v []byte) []string {
	var out []string
	for _, e := range bytes.Split(v, []byte(",")) {
		if e = bytes.Trim(e, " \t"); len(e) > 0 {
			out = append(out, hygLower(e))
		}
	}
	return out
}

// hygConnNamed returns the names a head's Connection fields list.
func hygConnNamed(fields []wire.Field) map[string]bool {
	named := map[string]bool{}
	for _, f := range fields {
		if hygLower(f.Name) == "connection" {
			for _, tok := range hygList(f.Value) {
				named[tok] = true
			}
		}
	}
	return named
}

// hygForwardedFamily reports Forwarded and X-Forwarded-* other than the
// three ferrum writes. "X-Forwarded-" alone names nothing in the family.
func hygForwardedFamily(name string) bool {
	return name == "forwarded" || len(name) > len("x-forwarded-") && strings.HasPrefix(name, "x-forwarded-")
}

// hygValidID is the contract's sane X-Request-Id.
func hygValidID(v []byte) bool {
	if len(v) < 1 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// hygSplit sorts the fields of a head into ferrum's own, by lower-case
// name, and the others, in order.
func hygSplit(fields []wire.Field, own map[string]bool) (mine map[string][]string, rest []string) {
	mine = map[string][]string{}
	for _, f := range fields {
		name := hygLower(f.Name)
		if own[name] {
			mine[name] = append(mine[name], string(f.Value))
			continue
		}
		rest = append(rest, string(f.Name)+": "+string(f.Value))
	}
	return mine, rest
}

// hygExpect reports a field ferrum writes itself whose lines are not want.
func hygExpect(bad *[]string, mine map[string][]string, name string, want ...string) {
	if got := mine[name]; !slices.Equal(got, want) {
		*bad = append(*bad, fmt.Sprintf("%s lines %q, want %q", name, got, want))
	}
}

// hygCompareRest reports the first difference between the passed-on field
// lines and the model's, saying which rule it breaks where it can.
func hygCompareRest(bad *[]string, got, want []string, named map[string]bool, dropForwarded bool) {
	if slices.Equal(got, want) {
		return
	}
	for _, line := range got {
		name := hygLower([]byte(line[:strings.IndexByte(line, ':')]))
		switch {
		case hygHop[name]:
			*bad = append(*bad, fmt.Sprintf("hop-by-hop field passed on: %q", line))
		case named[name]:
			*bad = append(*bad, fmt.Sprintf("field named by Connection passed on: %q", line))
		case dropForwarded && hygForwardedFamily(name):
			*bad = append(*bad, fmt.Sprintf("a client's forwarding field passed on from an untrusted peer: %q", line))
		}
	}
	*bad = append(*bad, fmt.Sprintf("passed-on fields\n%q, want\n%q", got, want))
}

// check holds attempt head i to the Forwarding rules; it returns what is
// wrong with it, nothing when all is well.
func (u *hygUpstream) check(i int) []string {
	n, out, s, in := hygLengths[i], u.heads[i], u.setup, &u.in
	var bad []string
	var o wire.Request
	if err := wire.ParseRequest(out, &o); err != nil {
		return []string{fmt.Sprintf("the upstream head does not parse: %v", err)}
	}
	if string(o.Method) != string(in.Method) || string(o.Target) != u.target || o.Form != wire.FormOrigin || o.Minor != 1 {
		bad = append(bad, fmt.Sprintf("request line %q, want %q", hygLine(out), string(in.Method)+" "+u.target+" HTTP/1.1"))
	}
	if o.BothLengths || o.Close || o.ExpectContinue || o.ExpectOther {
		bad = append(bad, fmt.Sprintf("both lengths %v, close %v, expect %v/%v", o.BothLengths, o.Close, o.ExpectContinue, o.ExpectOther))
	}
	mine, rest := hygSplit(o.Fields, hygOwnRequest)
	named := hygConnNamed(in.Fields)

	host := string(in.HostValue())
	if !s.preserveHost || host == "" {
		hygExpect(&bad, mine, "host", hygBackendHost)
	} else {
		hygExpect(&bad, mine, "host", host)
	}
	method := string(in.Method)
	switch {
	case n < 0:
		hygExpect(&bad, mine, "transfer-encoding", "chunked")
		hygExpect(&bad, mine, "content-length")
	case n > 0:
		hygExpect(&bad, mine, "transfer-encoding")
		hygExpect(&bad, mine, "content-length", strconv.FormatInt(n, 10))
	case method == "POST" || method == "PUT" || method == "PATCH":
		hygExpect(&bad, mine, "transfer-encoding")
		hygExpect(&bad, mine, "content-length", "0")
	default:
		hygExpect(&bad, mine, "transfer-encoding")
		hygExpect(&bad, mine, "content-length")
	}

	var trailers bool
	var clientIDs [][]byte
	var xff, xfp, xfh []string
	xfpSet, xfhSet := false, false
	for _, f := range in.Fields {
		name := hygLower(f.Name)
		switch name {
		case "te":
			trailers = trailers || slices.Contains(hygList(f.Value), "trailers")
		case "x-request-id":
			clientIDs = append(clientIDs, f.Value)
		}
		if !s.trusted || named[name] {
			continue
		}
		switch name {
		case "x-forwarded-for":
			if len(f.Value) > 0 {
				xff = append(xff, string(f.Value))
			}
		case "x-forwarded-proto":
			if len(f.Value) > 0 {
				xfp = append(xfp, string(f.Value))
				xfpSet = true
			}
		case "x-forwarded-host":
			if len(f.Value) > 0 {
				xfh = append(xfh, string(f.Value))
				xfhSet = true
			}
		}
	}
	if trailers {
		hygExpect(&bad, mine, "te", "trailers")
	} else {
		hygExpect(&bad, mine, "te")
	}
	if u.upgrade != nil {
		hygExpect(&bad, mine, "connection", "Upgrade")
		hygExpect(&bad, mine, "upgrade", string(u.upgrade))
	} else {
		hygExpect(&bad, mine, "connection")
		hygExpect(&bad, mine, "upgrade")
	}

	if !hygValidID([]byte(u.id)) {
		bad = append(bad, fmt.Sprintf("request id %q is not a sane one", u.id))
	}
	if len(clientIDs) == 1 && hygValidID(clientIDs[0]) && u.id != string(clientIDs[0]) {
		bad = append(bad, fmt.Sprintf("request id %q, want the client's %q", u.id, clientIDs[0]))
	}
	hygExpect(&bad, mine, "x-request-id", u.id)

	hygExpect(&bad, mine, "x-forwarded-for", strings.Join(append(xff, u.peer), ", "))
	// A trusted peer's X-Forwarded-Proto and -Host lines with a value are
	// kept as they came; empty ones say nothing and go. When none carries a
	// value, ferrum's own takes their place: never an empty line beside it.
	if !xfpSet {
		xfp = []string{"http"}
	}
	hygExpect(&bad, mine, "x-forwarded-proto", xfp...)
	if !xfhSet && host != "" {
		xfh = []string{host}
	}
	hygExpect(&bad, mine, "x-forwarded-host", xfh...)

	var want []string
	for _, f := range in.Fields {
		name := hygLower(f.Name)
		if hygOwnRequest[name] || hygHop[name] || named[name] || !s.trusted && hygForwardedFamily(name) {
			continue
		}
		want = append(want, string(f.Name)+": "+string(f.Value))
	}
	hygCompareRest(&bad, rest, want, named, !s.trusted)
	return bad
}

// hygLine returns the first line of a head.
func hygLine(b []byte) string {
	if i := bytes.IndexByte(b, '\r'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// hygRequestSeeds are client heads aimed at the hygiene rules.
var hygRequestSeeds = []string{
	"GET /api/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
	// Connection naming fields ferrum sets itself.
	"POST /api/x HTTP/1.1\r\nHost: example.com\r\nConnection: X-Forwarded-For, Host, Content-Length\r\nX-Forwarded-For: 6.6.6.6\r\nContent-Length: 3\r\n\r\n",
	"GET /api HTTP/1.1\r\nHost: a\r\nConnection: x-forwarded-proto, forwarded, x-request-id, x-forwarded-host\r\nX-Forwarded-Proto: https\r\nForwarded: for=1.2.3.4\r\nX-Request-Id: named-1\r\nX-Forwarded-Host: b\r\n\r\n",
	"GET /api HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding, upgrade, connection, te, expect\r\nTE: trailers\r\n\r\n",
	// TE.
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, te\r\nTE: trailers\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers, gzip\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTE: gzip;q=0.5, Trailers \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTE: gzip\r\nTE: TRAILERS\r\nte: trailers\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTE: trailersx, xtrailers, trailers;q=1\r\n\r\n",
	// X-Forwarded-For.
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\nx-forwarded-for:\r\nX-FORWARDED-FOR: ,\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: unknown, [::1]:80\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: front\r\nX-Forwarded-Port: 443\r\nForwarded: for=1.1.1.1;proto=https\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: b\r\nX-Forwarded-Host: c\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-: x\r\nX-Forwarded-X: y\r\nX-Forwardedy: z\r\n\r\n",
	// Upgrades.
	"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	"POST /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 2\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade:\r\n\r\n",
	"GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	// Mixed case, empty values.
	"GET / HTTP/1.1\r\nhOsT: a\r\ncOnNeCtIoN: X-Secret, KEEP-ALIVE\r\nx-SECRET: s\r\nKeep-Alive: timeout=5\r\nPROXY-AUTHORIZATION: Basic eA==\r\nPrOxY-CoNnEcTiOn: keep-alive\r\nTRAILER: X-Sum\r\nproxy-authenticate: Basic\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\nConnection:\r\nX-Forwarded-Host:\r\nX-Request-Id:\r\nForwarded:\r\nTE:\r\nX-Empty:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, ,\t,x-a ,\r\nX-A: 1\r\nX-a: 2\r\n\r\n",
	// Request ids.
	"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: one\r\nX-Request-Id: two\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: not sane!\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: " + strings.Repeat("a", 129) + "\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Request-Id\r\nX-Request-Id: abc:1.2_3-4\r\n\r\n",
	// Bodies, framing, Expect.
	"POST /api/up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	"PUT /api/up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nExpect: 100-continue\r\n\r\n",
	"PATCH /api/up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
	"POST /api/up HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n",
	"post /api HTTP/1.1\r\nHost: a\r\n\r\n",
	// Targets.
	"GET http://example.com:8080/api/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET HTTP://EXAMPLE.com?q HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://[::1]:8080 HTTP/1.1\r\nHost:\r\n\r\n",
	"GET /api/../apix/./y?a=/api HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /api? HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	// HTTP/1.0.
	"GET /api HTTP/1.0\r\n\r\n",
	"POST /api/ HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: max=5\r\nContent-Length: 2\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n",
	hygManyFields(40, 12),
	"GET / HTTP/1.1\r\nHost: a\r\nX-Bin: \x80\xff\t v\r\nConnection: \xe2\x84\xaaey\r\nX-Key: kelvin\r\n\r\n",
}

// hygManyFields returns a head with n fields X-F0, X-F1, ... of which the
// first named are listed by Connection, past what ferrum keeps inline.
func hygManyFields(n, named int) string {
	var b strings.Builder
	b.WriteString("GET /api/many HTTP/1.1\r\nHost: a\r\nConnection: keep-alive")
	for i := 0; i < named; i++ {
		fmt.Fprintf(&b, ", x-f%d", i)
	}
	b.WriteString("\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X-F%d: v%d\r\n", i, i)
	}
	b.WriteString("\r\n")
	return b.String()
}

// FuzzUpstreamHead holds every head ferrum sends a backend to the
// Forwarding rules, for any request head the parser accepts, any peer and
// route settings (sel), and each body framing.
func FuzzUpstreamHead(f *testing.F) {
	for _, head := range hygRequestSeeds {
		for _, sel := range []byte{0, 1, 2, 3, 6, 7, 8, 15} {
			f.Add([]byte(head), sel)
		}
	}
	for _, sel := range []byte{0, 1, 2, 3} {
		f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto:\r\nX-Forwarded-Host:\r\n\r\n"), sel)
		f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto:\r\nX-Forwarded-Proto: https\r\n\r\n"), sel)
	}
	f.Add([]byte("0 / HTTP/1.0\r\nHost:00\r\nX-ForwArded-Host:\r\n\r\n"), byte(0x03))
	f.Fuzz(func(t *testing.T, head []byte, sel byte) {
		s := hygSetupOf(sel)
		u, ok := hygBuild(t, head, s)
		if !ok {
			return
		}
		for i := range u.heads {
			if bad := u.check(i); len(bad) > 0 {
				t.Fatalf("%s, body %d:\n%q\nbecame\n%q\n%s", s, hygLengths[i], head, u.heads[i], strings.Join(bad, "\n"))
			}
		}
	})
}

// hygRespond builds the answer head for an upstream answer resp as stream
// does, framed as told.
func hygRespond(cc *clientConn, resp *wire.Response, frame int, length int64, closeConn bool) []byte {
	cc.r.close = closeConn
	b := appendFields(wire.AppendStatusLine(nil, resp.Status), resp.Fields, resp.HasConnection)
	return cc.appendTail(b, frame, length)
}

// hygCheckResponse holds the answer head out, made from in with the given
// framing, to the Forwarding rules.
func hygCheckResponse(in *wire.Response, id string, frame int, length int64, closeConn bool, out []byte) []string {
	var bad []string
	var o wire.Response
	if err := wire.ParseResponse(out, false, &o); err != nil {
		return []string{fmt.Sprintf("the answer head does not parse: %v", err)}
	}
	if o.Status != in.Status || o.Minor != 1 || o.BothLengths {
		bad = append(bad, fmt.Sprintf("status line %q for status %d, both lengths %v", hygLine(out), in.Status, o.BothLengths))
	}
	mine, rest := hygSplit(o.Fields, hygOwnResponse)
	switch frame {
	case frameLength:
		hygExpect(&bad, mine, "content-length", strconv.FormatInt(length, 10))
		hygExpect(&bad, mine, "transfer-encoding")
	case frameChunked:
		hygExpect(&bad, mine, "content-length")
		hygExpect(&bad, mine, "transfer-encoding", "chunked")
	default:
		hygExpect(&bad, mine, "content-length")
		hygExpect(&bad, mine, "transfer-encoding")
	}
	if closeConn || frame == frameClose {
		hygExpect(&bad, mine, "connection", "close")
	} else {
		hygExpect(&bad, mine, "connection")
	}
	hygExpect(&bad, mine, "x-request-id", id)

	named := hygConnNamed(in.Fields)
	var want []string
	for _, f := range in.Fields {
		name := hygLower(f.Name)
		if hygOwnResponse[name] || hygHop[name] && name != "expect" || named[name] {
			continue
		}
		want = append(want, string(f.Name)+": "+string(f.Value))
	}
	hygCompareRest(&bad, rest, want, named, false)
	return bad
}

// hygFrames are the framings appendTail is asked for, by name.
var hygFrames = []struct {
	name  string
	frame int
}{{"none", frameNone}, {"length", frameLength}, {"chunked", frameChunked}, {"close", frameClose}}

// hygResponseSeeds are upstream answer heads aimed at the hygiene rules.
var hygResponseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: X-Secret, close\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nContent-Length: 3\r\nX-Request-Id: upstream-1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nTE: trailers\r\nX-A: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: max=5\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 100\r\n\r\n",
	"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nProxy-Authorization: leak\r\nProxy-Connection: close\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: Content-Length, Transfer-Encoding, X-Request-Id, Date\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Request-Id: a\r\nX-Request-Id: b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\ncOnNeCtIoN: x-LOWER\r\nX-lower: 1\r\nKEEP-ALIVE: 1\r\ntrailer: x\r\nUPGRADE: h2c\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection:\r\nX-Empty:\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
	"HTTP/1.1 599\r\nConnection: ,x-a,,\t x-b \t,\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
	hygManyResponseFields(30, 11),
}

// hygManyResponseFields is hygManyFields for an answer.
func hygManyResponseFields(n, named int) string {
	head := hygManyFields(n, named)
	return "HTTP/1.1 200 OK\r\n" + head[strings.Index(head, "\r\n")+2:]
}

// FuzzResponseFields holds every answer head ferrum builds from an upstream
// answer to the Forwarding rules, for each framing ferrum may choose.
func FuzzResponseFields(f *testing.F) {
	for _, head := range hygResponseSeeds {
		f.Add([]byte(head), false)
		f.Add([]byte(head), true)
	}
	f.Fuzz(func(t *testing.T, head []byte, isHead bool) {
		var in wire.Response
		if wire.ParseResponse(head, isHead, &in) != nil {
			return
		}
		client, far := net.Pipe()
		defer far.Close()
		cc := newClientConn(&Proxy{}, client)
		defer cc.finish()
		cc.idBuf = appendNewID(cc.idBuf[:0])
		length := in.ContentLength
		if length < 0 {
			length = 17
		}
		for _, fr := range hygFrames {
			for _, closeConn := range []bool{false, true} {
				out := hygRespond(cc, &in, fr.frame, length, closeConn)
				if bad := hygCheckResponse(&in, string(cc.idBuf), fr.frame, length, closeConn, out); len(bad) > 0 {
					t.Fatalf("frame %s, close %v:\n%q\nbecame\n%q\n%s", fr.name, closeConn, head, out, strings.Join(bad, "\n"))
				}
			}
		}
	})
}

// TestHygieneUpstreamHead pins the exact head a backend gets for the rules
// that matter most. {id} in want stands for a request id ferrum made.
func TestHygieneUpstreamHead(t *testing.T) {
	tests := []struct {
		name  string
		setup hygSetup
		n     int64
		head  string
		want  string
	}{{
		name:  "untrusted peer: hop-by-hop, named and forwarding fields go",
		setup: hygSetup{preserveHost: true, stripPrefix: true},
		head: "GET /api/x?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Forwarded-For, X-Secret\r\n" +
			"Keep-Alive: timeout=5\r\nX-Secret: s\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n" +
			"X-Forwarded-Port: 443\r\nForwarded: for=6.6.6.6\r\nTE: trailers, gzip\r\nProxy-Authorization: Basic eA==\r\n" +
			"X-Request-Id: req-1\r\nAccept: */*\r\n\r\n",
		want: "GET /x?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nTE: trailers\r\nX-Forwarded-For: 192.0.2.7\r\n" +
			"X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\nX-Request-Id: req-1\r\n\r\n",
	}, {
		name:  "trusted peer: forwarding fields kept, X-Forwarded-For extended",
		setup: hygSetup{trusted: true},
		n:     hygBodyLength,
		head: "POST /api/x HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7, 8.8.8.8\r\n" +
			"X-Forwarded-Proto: https\r\nX-Forwarded-Host: front.example\r\nForwarded: for=6.6.6.6\r\n" +
			"Content-Length: 5\r\nX-Request-Id: req-2\r\n\r\n",
		want: "POST /api/x HTTP/1.1\r\nHost: " + hygBackendHost + "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: front.example\r\n" +
			"Forwarded: for=6.6.6.6\r\nX-Forwarded-For: 6.6.6.6, 7.7.7.7, 8.8.8.8, 10.1.2.3\r\nX-Request-Id: req-2\r\n" +
			"Content-Length: 5\r\n\r\n",
	}, {
		name:  "both lengths: chunked only; Connection names framing and Host in vain",
		setup: hygSetup{preserveHost: true},
		n:     -1,
		head: "POST /api HTTP/1.1\r\nHost: a.example\r\nConnection: Host, Content-Length, X-Request-Id\r\n" +
			"Content-Length: 3\r\nTransfer-Encoding: chunked\r\nX-Request-Id: bad id\r\n\r\n",
		want: "POST /api HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n" +
			"X-Forwarded-Host: a.example\r\nX-Request-Id: {id}\r\nTransfer-Encoding: chunked\r\n\r\n",
	}, {
		name:  "upgrade: Connection and Upgrade carried on",
		setup: hygSetup{preserveHost: true, v6: true},
		head: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nX-Request-Id: ws\r\n\r\n",
		want: "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"X-Forwarded-For: 2001:db8::7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Request-Id: ws\r\n\r\n",
	}, {
		name:  "Upgrade without Connection: upgrade is dropped; TE without trailers too",
		setup: hygSetup{preserveHost: true},
		head:  "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nTE: gzip\r\nX-Request-Id: up\r\n\r\n",
		want: "GET /ws HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n" +
			"X-Forwarded-Host: a\r\nX-Request-Id: up\r\n\r\n",
	}, {
		name:  "HTTP/1.0 without Host: the backend's host, HTTP/1.1 upstream",
		setup: hygSetup{preserveHost: true},
		head:  "GET /api HTTP/1.0\r\nX-Request-Id: old\r\n\r\n",
		want: "GET /api HTTP/1.1\r\nHost: " + hygBackendHost + "\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n" +
			"X-Request-Id: old\r\n\r\n",
	}, {
		name:  "absolute form: its authority is the host",
		setup: hygSetup{preserveHost: true, stripPrefix: true},
		head:  "GET http://example.com:8080/api?x HTTP/1.1\r\nHost: other\r\nX-Request-Id: abs\r\n\r\n",
		want: "GET /?x HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n" +
			"X-Forwarded-Host: example.com:8080\r\nX-Request-Id: abs\r\n\r\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := hygBuild(t, []byte(tt.head), tt.setup)
			if !ok {
				t.Fatalf("%q is not forwarded", tt.head)
			}
			i := slices.Index(hygLengths[:], tt.n)
			want := strings.ReplaceAll(tt.want, "{id}", u.id)
			if got := string(u.heads[i]); got != want {
				t.Errorf("upstream head for %q (%s)\n= %q\nwant %q", tt.head, tt.setup, got, want)
			}
			if bad := u.check(i); len(bad) > 0 {
				t.Errorf("the fuzz model disagrees:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// TestHygieneResponseFields pins the exact answer head for an upstream
// answer full of fields that must not reach the client.
func TestHygieneResponseFields(t *testing.T) {
	client, far := net.Pipe()
	defer far.Close()
	cc := newClientConn(&Proxy{}, client)
	defer cc.finish()
	cc.idBuf = append(cc.idBuf[:0], "rid-1"...)
	head := "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n" +
		"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\n" +
		"Proxy-Authenticate: Basic\r\nX-Request-Id: upstream\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
	var in wire.Response
	if err := wire.ParseResponse([]byte(head), false, &in); err != nil {
		t.Fatal(err)
	}
	got := string(hygRespond(cc, &in, frameLength, 12, true))
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Request-Id: rid-1\r\n" +
		"Content-Length: 12\r\nConnection: close\r\n\r\n"
	if got != want {
		t.Errorf("answer head for %q\n= %q\nwant %q", head, got, want)
	}
}

// TestHygieneModelsCatchBrokenHeads makes sure the fuzz targets can fail:
// each head here breaks one rule, and the model must say so.
func TestHygieneModelsCatchBrokenHeads(t *testing.T) {
	const head = "POST /api/x HTTP/1.1\r\nHost: a\r\nConnection: X-Secret\r\nX-Secret: s\r\nAccept: */*\r\n" +
		"TE: gzip\r\nX-Request-Id: rid\r\nContent-Length: 5\r\n\r\n"
	good := "POST /api/x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Forwarded-For: 192.0.2.7\r\n" +
		"X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Request-Id: rid\r\nContent-Length: 5\r\n\r\n"
	broken := []struct{ rule, old, new string }{
		{"hop-by-hop", "Accept", "Proxy-Authorization: x\r\nAccept"},
		{"named by Connection", "Accept", "X-Secret: s\r\nAccept"},
		{"end-to-end dropped", "Accept: */*\r\n", ""},
		{"two framings", "Content-Length: 5\r\n", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"},
		{"no framing", "Content-Length: 5\r\n", ""},
		{"two hosts", "Host: a\r\n", "Host: a\r\nHost: a\r\n"},
		{"TE without trailers offered", "Accept", "TE: trailers\r\nAccept"},
		{"two request ids", "X-Request-Id: rid\r\n", "X-Request-Id: rid\r\nX-Request-Id: rid\r\n"},
		{"client's X-Forwarded-For believed", "192.0.2.7", "6.6.6.6, 192.0.2.7"},
		{"peer missing", "192.0.2.7", "6.6.6.6"},
		{"Forwarded from an untrusted peer", "Accept", "Forwarded: for=1.1.1.1\r\nAccept"},
		{"X-Forwarded-Proto twice", "X-Forwarded-Proto: http\r\n", "X-Forwarded-Proto: http\r\nX-Forwarded-Proto: https\r\n"},
		{"Connection passed on", "Accept", "Connection: keep-alive\r\nAccept"},
	}
	u, ok := hygBuild(t, []byte(head), hygSetup{preserveHost: true})
	if !ok {
		t.Fatalf("%q is not forwarded", head)
	}
	i := slices.Index(hygLengths[:], hygBodyLength)
	if got := string(u.heads[i]); got != good {
		t.Fatalf("upstream head for %q\n= %q\nwant %q", head, got, good)
	}
	for _, b := range broken {
		u.heads[i] = []byte(strings.Replace(good, b.old, b.new, 1))
		if bad := u.check(i); len(bad) == 0 {
			t.Errorf("%s: the model accepts %q", b.rule, u.heads[i])
		}
	}

	const resp = "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\nDate: d\r\n\r\n"
	var in wire.Response
	if err := wire.ParseResponse([]byte(resp), false, &in); err != nil {
		t.Fatal(err)
	}
	goodResp := "HTTP/1.1 200 OK\r\nDate: d\r\nX-Request-Id: rid\r\nContent-Length: 3\r\n\r\n"
	if bad := hygCheckResponse(&in, "rid", frameLength, 3, false, []byte(goodResp)); len(bad) > 0 {
		t.Fatalf("the model refuses a good answer head:\n%s", strings.Join(bad, "\n"))
	}
	brokenResp := []struct{ rule, old, new string }{
		{"named by Connection", "Date", "X-Secret: s\r\nDate"},
		{"hop-by-hop", "Date", "Keep-Alive: 1\r\nDate"},
		{"Connection passed on", "Date", "Connection: X-Secret\r\nDate"},
		{"two framings", "Content-Length: 3\r\n", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"},
		{"wrong length", "Content-Length: 3", "Content-Length: 4"},
		{"no request id", "X-Request-Id: rid\r\n", ""},
		{"end-to-end dropped", "Date: d\r\n", ""},
	}
	for _, b := range brokenResp {
		out := []byte(strings.Replace(goodResp, b.old, b.new, 1))
		if bad := hygCheckResponse(&in, "rid", frameLength, 3, false, out); len(bad) == 0 {
			t.Errorf("%s: the model accepts %q", b.rule, out)
		}
	}
}
