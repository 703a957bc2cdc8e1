package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// requestSeeds are request heads, with bodies where framing matters: the
// classic smuggling vectors and each rule of ParseRequest.
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	browserHead,
	// CL.TE and TE.CL.
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
	// Content-Length.
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	// Bad bytes, folding, line endings.
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\tfolded\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\n",
	"GET / HTTP/1.1\r\nX: \x80\xff\r\nHost: a\r\n\r\n",
	// Request lines.
	"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET /\r\n\r\n",
	"GET / http/1.1\r\nHost: a\r\n\r\n",
	"get / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a?b=%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://example.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET http://[::1]:8080/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET foo:bar HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"CONNECT /rpc HTTP/1.1\r\nHost: a\r\n\r\n",
	// HTTP/1.0 and Host.
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nPragma: no-cache\r\n\r\n",
	"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	// Chunk framing inside a request.
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\n\r\n",
	// A very long field.
	"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("v", 9000) + "\r\n\r\n",
}

// FuzzRequestVsNetHTTP checks that ferrum accepts no request whose framing
// net/http's request reader rejects, and that when both accept they agree on
// method, target, host, fields, body length, connection close and body bytes.
func FuzzRequestVsNetHTTP(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte{1, 2, 0, 5, 80, 40})
	f.Add([]byte{1, 4, 0, 80, 152})
	f.Fuzz(func(t *testing.T, data []byte) {
		compareRequest(t, data)
		// The same bytes read as choices among request pieces reach
		// combinations of fields that byte mutations seldom build.
		compareRequest(t, synthRequest(data))
	})
}

// compareRequest runs data through ferrum and net/http and fails t where
// ferrum accepts more or the two disagree.
func compareRequest(t *testing.T, data []byte) {
	rd := NewReader(bytes.NewReader(data), 512)
	var r Request
	h, err := rd.ReadHead(64 << 10)
	if err == nil {
		err = ParseRequest(h, &r)
	}
	if err != nil {
		return
	}
	nr, nerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if nerr != nil {
		t.Fatalf("ferrum accepts a request net/http rejects (%v):\n%s", nerr, clip(data))
	}
	mismatch := func(what string, got, want any) {
		t.Fatalf("%s: ferrum %s, net/http %s for\n%s", what, clip(got), clip(want), clip(data))
	}
	if string(r.Method) != nr.Method {
		mismatch("method", r.Method, nr.Method)
	}
	if string(r.Target) != nr.RequestURI {
		mismatch("target", r.Target, nr.RequestURI)
	}
	if r.Major != nr.ProtoMajor || r.Minor != nr.ProtoMinor {
		mismatch("version", [2]int{r.Major, r.Minor}, [2]int{nr.ProtoMajor, nr.ProtoMinor})
	}
	if string(r.HostValue()) != nr.Host {
		mismatch("host", r.HostValue(), nr.Host)
	}
	if got := netHTTPView(&r); !reflect.DeepEqual(got, map[string][]string(nr.Header)) {
		mismatch("fields", got, nr.Header)
	}
	length := r.ContentLength
	if r.Chunked {
		length = -1
	} else if length < 0 {
		length = 0
	}
	if length != nr.ContentLength {
		mismatch("body length", length, nr.ContentLength)
	}
	// ferrum also closes after a request with both lengths.
	if r.Close != (nr.Close || r.BothLengths) {
		mismatch("close", r.Close, nr.Close)
	}
	body, ok := readRequestBody(rd, &r)
	if !ok {
		return
	}
	nbody, nerr := io.ReadAll(nr.Body)
	if nerr != nil {
		t.Fatalf("ferrum reads a body net/http rejects (%v):\n%s", nerr, clip(data))
	}
	if !bytes.Equal(body, nbody) {
		mismatch("body", body, nbody)
	}
}

// Pieces synthRequest assembles requests from.
var (
	synthLines = []string{
		"GET / HTTP/1.1", "POST /a?b HTTP/1.1", "POST / HTTP/1.0", "GET http://h.example:80/p HTTP/1.1",
		"OPTIONS * HTTP/1.1", "CONNECT h:443 HTTP/1.1", "GET /%41 HTTP/1.1", "GET http://[::1]/ HTTP/1.0",
	}
	synthFields = []string{
		"Host: a", "Host: b:80", "Host:", "Host: [::1]", "host:  a ",
		"Content-Length: 3", "Content-Length: 0", "content-length:3", "Content-Length: 03", "Content-Length: 3 ",
		"Transfer-Encoding: chunked", "transfer-encoding: Chunked", "Transfer-Encoding:\tchunked\t",
		"Transfer-Encoding: chunked, chunked", "Transfer-Encoding: gzip",
		"Connection: close", "Connection: keep-alive", "Connection: upgrade, close", "Upgrade: websocket",
		"Trailer: X-T", "Trailer: content-length", "Trailer: a, Transfer-Encoding",
		"Expect: 100-continue", "Pragma: no-cache", "Cache-Control: max-age=0", "X-A: 1", "x-a: 2", "X-B:",
	}
	synthEnds   = []string{"\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r\r\n"}
	synthBodies = []string{
		"", "abc", "3\r\nabc\r\n0\r\n\r\n", "0\r\n\r\n", "3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"3\r\nabc\r\n0\r\n", "1\r\na\r\n2\r\nbc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	}
)

// synthRequest reads data as a list of choices and builds a request from the
// chosen request line, fields, line endings and body.
func synthRequest(data []byte) []byte {
	if len(data) < 2 {
		return nil
	}
	out := append([]byte(nil), synthLines[int(data[0])%len(synthLines)]...)
	out = append(out, "\r\n"...)
	body := synthBodies[int(data[1])%len(synthBodies)]
	for _, c := range data[2:] {
		out = append(out, synthFields[int(c>>3)%len(synthFields)]...)
		out = append(out, synthEnds[int(c&7)]...)
	}
	out = append(out, "\r\n"...)
	return append(out, body...)
}

// netHTTPView rebuilds the header map net/http's ReadRequest makes from the
// same fields: names canonicalised, values in order, and net/http's own
// rewrites applied.
func netHTTPView(r *Request) map[string][]string {
	m := make(map[string][]string)
	var name []byte
	for _, f := range r.Fields {
		name = AppendCanonical(name[:0], f.Name)
		m[string(name)] = append(m[string(name)], string(f.Value))
	}
	// net/http moves Host out of the map into Request.Host, and
	// Transfer-Encoding into Request.TransferEncoding.
	delete(m, "Host")
	delete(m, "Transfer-Encoding")
	if r.Chunked {
		// With chunked framing it drops Content-Length (RFC 9112 §6.3)
		// and moves Trailer into Request.Trailer.
		delete(m, "Content-Length")
		delete(m, "Trailer")
	}
	// It turns "Pragma: no-cache" into "Cache-Control: no-cache" as well
	// when no Cache-Control was sent (RFC 7234 §5.4).
	if p := m["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := m["Cache-Control"]; !ok {
			m["Cache-Control"] = []string{"no-cache"}
		}
	}
	return m
}

// clip formats v with %q, cut short so that a failure on a large input stays
// readable.
func clip(v any) string {
	s := fmt.Sprintf("%q", v)
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// readRequestBody reads the body r announces from rd and reports whether it
// arrived whole and well framed.
func readRequestBody(rd *Reader, r *Request) ([]byte, bool) {
	if r.Chunked {
		var c ChunkedReader
		c.Reset(rd)
		body, err := io.ReadAll(&c)
		return body, err == nil
	}
	if r.ContentLength <= 0 {
		return nil, true
	}
	body, err := io.ReadAll(io.LimitReader(rd, r.ContentLength))
	return body, err == nil && int64(len(body)) == r.ContentLength
}

// FuzzAuthority checks that every host[:port] ferrum accepts, in a target or
// in Host, is one net/url parses to the same host, so that ferrum and a
// backend built on net/http never disagree about which host a request is for.
func FuzzAuthority(f *testing.F) {
	for _, s := range []string{
		"example.com", "example.com:8080", "EXAMPLE.com:", "a_b~c-d.e", "1.2.3.4:80",
		"[::1]", "[::1]:443", "[::ffff:1.2.3.4]", "[1:2:3:4:5:6::1.2.3.4]", "[1:2:3:4:5::1.2.3.4]",
		"[1:2:3:4:5:6:7::]", "[::2:3:4:5:6:7:8]", "[1.2.3.4]", "[v1.x]", "[fe80::1%25eth0]",
		"a:b", "a:1:2", "user@a", "a%41", ":80", "[::1]x", "[::1]]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, a string) {
		if !validAuthority([]byte(a), false) {
			return
		}
		u, err := url.ParseRequestURI("http://" + a + "/")
		if err != nil {
			t.Fatalf("ferrum accepts host %q, net/url rejects it: %v", a, err)
		}
		if u.Host != a {
			t.Fatalf("host %q: net/url reads %q", a, u.Host)
		}
	})
}
