package wire

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// statusOf returns the Status of a wire *Error, 0 for nil and -1 for any
// other error.
func statusOf(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return -1
}

// wantText renders an expected status for a failure message.
func wantText(status int) string {
	if status == 0 {
		return "nil"
	}
	return strconv.Itoa(status)
}

// head joins lines with CRLF and adds the empty line that ends a head.
func head(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

func TestParseRequestStatus(t *testing.T) {
	long := strings.Repeat("a", 10000)
	tests := []struct {
		in   string
		want int // 0: accepted
	}{
		// Request line.
		{head("GET / HTTP/1.1", "Host: a"), 0},
		{head("GET / HTTP/1.0"), 0},
		{head("get / HTTP/1.1", "Host: a"), 0},
		{head("M-SEARCH * HTTP/1.1", "Host: a"), 400},
		{head("GET  / HTTP/1.1", "Host: a"), 400},
		{head("GET /  HTTP/1.1", "Host: a"), 400},
		{head(" GET / HTTP/1.1", "Host: a"), 400},
		{head("GET / HTTP/1.1 ", "Host: a"), 400},
		{head("GET\t/ HTTP/1.1", "Host: a"), 400},
		{head("GET /a b HTTP/1.1", "Host: a"), 400},
		{head("GET /"), 400},
		{head("GET / http/1.1", "Host: a"), 400},
		{head("GET / HTTP/1.10", "Host: a"), 400},
		{head("GET / HTTP/1", "Host: a"), 400},
		{head("GET / HTTP/1.2", "Host: a"), 505},
		{head("GET / HTTP/2.0", "Host: a"), 505},
		{head("GET / HTTP/0.9", "Host: a"), 505},
		{head("PRI * HTTP/2.0"), 505},
		{head("G(T / HTTP/1.1", "Host: a"), 400},
		{head("G\x00T / HTTP/1.1", "Host: a"), 400},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400},
		{"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nX", 400},
		// Targets.
		{head("GET /a?b=c&d=%zz HTTP/1.1", "Host: a"), 0},
		{head("GET /%41%2f HTTP/1.1", "Host: a"), 0},
		{head("GET /%zz HTTP/1.1", "Host: a"), 400},
		{head("GET /%4 HTTP/1.1", "Host: a"), 400},
		{head("GET /a%4?x HTTP/1.1", "Host: a"), 400},
		{head("GET /a#b HTTP/1.1", "Host: a"), 400},
		{head("GET /\xc3\xa9 HTTP/1.1", "Host: a"), 400},
		{head("GET /a\x7f HTTP/1.1", "Host: a"), 400},
		{head("GET /{}|^` HTTP/1.1", "Host: a"), 0},
		{head("GET http://example.com/p?q HTTP/1.1", "Host: a"), 0},
		{head("GET HTTP://example.com HTTP/1.1", "Host: a"), 0},
		{head("GET https://example.com:8443?q HTTP/1.1", "Host: a"), 0},
		{head("GET http://[::1]:80/ HTTP/1.1", "Host: a"), 0},
		{head("GET http://[1.2.3.4]/ HTTP/1.1", "Host: a"), 400},
		{head("GET http://[::1/ HTTP/1.1", "Host: a"), 400},
		{head("GET http:///p HTTP/1.1", "Host: a"), 400},
		{head("GET http://u@h/ HTTP/1.1", "Host: a"), 400},
		{head("GET http://h:x/ HTTP/1.1", "Host: a"), 400},
		{head("GET http://a:1:2/ HTTP/1.1", "Host: a"), 400},
		{head("GET http://h%41/ HTTP/1.1", "Host: a"), 400},
		{head("GET ftp://h/ HTTP/1.1", "Host: a"), 400},
		{head("GET foo:bar HTTP/1.1", "Host: a"), 400},
		{head("GET example.com:443 HTTP/1.1", "Host: a"), 400},
		{head("GET * HTTP/1.1", "Host: a"), 400},
		{head("OPTIONS * HTTP/1.1", "Host: a"), 0},
		{head("OPTIONS /x HTTP/1.1", "Host: a"), 0},
		{head("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), 0},
		{head("CONNECT [::1]:443 HTTP/1.1", "Host: a"), 0},
		{head("CONNECT example.com HTTP/1.1", "Host: a"), 400},
		{head("CONNECT example.com: HTTP/1.1", "Host: a"), 400},
		{head("CONNECT /rpc HTTP/1.1", "Host: a"), 400},
		{head("CONNECT http://a/ HTTP/1.1", "Host: a"), 400},
		// Field lines.
		{head("GET / HTTP/1.1", "Host: a", "X: \x80\xff obs-text"), 0},
		{head("GET / HTTP/1.1", "Host: a", "X:"), 0},
		{head("GET / HTTP/1.1", "Host: a", "X : y"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X\t: y"), 400},
		{head("GET / HTTP/1.1", "Host: a", ": y"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X y: z"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a\x00b"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a\rb"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a\x01b"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a\x7fb"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a", " folded"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X: a", "\tfolded"), 400},
		{head("GET / HTTP/1.1", " Host: a"), 400},
		{head("GET / HTTP/1.1", "Host: a", "X-Long: "+long), 0},
		// Host.
		{head("GET / HTTP/1.1"), 400},
		{head("GET / HTTP/1.1", "Host: a", "Host: a"), 400},
		{head("GET / HTTP/1.0", "Host: a", "Host: b"), 400},
		{head("GET / HTTP/1.1", "Host:"), 0},
		{head("GET / HTTP/1.1", "Host: example.com:8080"), 0},
		{head("GET / HTTP/1.1", "Host: [2001:db8::1]:8080"), 0},
		{head("GET / HTTP/1.1", "Host: a b"), 400},
		{head("GET / HTTP/1.1", "Host: a/b"), 400},
		{head("GET / HTTP/1.1", "Host: user@a"), 400},
		{head("GET / HTTP/1.1", "Host: a:b"), 400},
		{head("GET / HTTP/1.1", "Host: :80"), 400},
		{head("GET / HTTP/1.1", "Host: [::1"), 400},
		{head("GET / HTTP/1.1", "Host: \xc3\xa9"), 400},
		{head("GET http://a/ HTTP/1.1"), 400},
		// Content-Length.
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 0005"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 9223372036854775807"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 9223372036854775808"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 99999999999999999999"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 6"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 6"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: +5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: -5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 0x5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5 5"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length:"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length : 5"), 400},
		// Transfer-Encoding.
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:  CHUNKED \t"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: xchunked"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunkedx"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, identity"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: identity"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 501},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), 501},
		{head("POST / HTTP/1.0", "Transfer-Encoding: chunked"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding\t: chunked"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 5"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: x"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: Content-Length"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: x, transfer-encoding"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: trailer"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: a", "Trailer: b",
			"Trailer: c", "Trailer: d", "Trailer: e", "Trailer: Content-Length"), 400},
		{head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X-Sum"), 0},
		{head("POST / HTTP/1.1", "Host: a", "Content-Length: 1", "Trailer: Content-Length"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var r Request
			err := ParseRequest([]byte(tt.in), &r)
			if got := statusOf(err); got != tt.want {
				t.Errorf("ParseRequest(%q) = %v, want %s", tt.in, err, wantText(tt.want))
			}
		})
	}
}

func TestParseRequestFields(t *testing.T) {
	in := head("POST http://Example.com:81/p?q=1 HTTP/1.1",
		"host: ignored.example",
		"X-A:  one \t",
		"x-a: two",
		"Connection: keep-alive, Upgrade",
		"Upgrade: websocket",
		"Expect: 100-continue",
		"Transfer-Encoding: chunked",
		"Content-Length: 12")
	var r Request
	if err := ParseRequest([]byte(in), &r); err != nil {
		t.Fatalf("ParseRequest(%q) = %v, want nil", in, err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Method", string(r.Method), "POST"},
		{"Target", string(r.Target), "http://Example.com:81/p?q=1"},
		{"Form", r.Form, FormAbsolute},
		{"Authority", string(r.Authority), "Example.com:81"},
		{"PathQuery", string(r.PathQuery), "/p?q=1"},
		{"HostValue", string(r.HostValue()), "Example.com:81"},
		{"Host", string(r.Host), "ignored.example"},
		{"Version", [2]int{r.Major, r.Minor}, [2]int{1, 1}},
		{"len(Fields)", len(r.Fields), 8},
		{"Fields[1]", string(r.Fields[1].Name) + "=" + string(r.Fields[1].Value), "X-A=one"},
		{"Fields[2]", string(r.Fields[2].Name) + "=" + string(r.Fields[2].Value), "x-a=two"},
		{"ContentLength", r.ContentLength, int64(-1)},
		{"Chunked", r.Chunked, true},
		{"BothLengths", r.BothLengths, true},
		{"Close", r.Close, true},
		{"ExpectContinue", r.ExpectContinue, true},
		{"HasConnection", r.HasConnection, true},
		{"ConnUpgrade", r.ConnUpgrade, true},
		{"Upgrade", string(r.Upgrade), "websocket"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("ParseRequest(%q): %s = %v, want %v", in, c.name, c.got, c.want)
		}
	}
}

func TestParseRequestConnection(t *testing.T) {
	tests := []struct {
		in                  string
		close, expect, expx bool
		length              int64
		upgrade             string
	}{
		{head("GET / HTTP/1.1", "Host: a"), false, false, false, -1, ""},
		{head("GET / HTTP/1.1", "Host: a", "Connection: close"), true, false, false, -1, ""},
		{head("GET / HTTP/1.1", "Host: a", "Connection: foo,  CLOSE "), true, false, false, -1, ""},
		{head("GET / HTTP/1.1", "Host: a", "Connection: closed"), false, false, false, -1, ""},
		{head("GET / HTTP/1.0"), true, false, false, -1, ""},
		{head("GET / HTTP/1.0", "Connection: Keep-Alive"), false, false, false, -1, ""},
		{head("GET / HTTP/1.0", "Connection: keep-alive, close"), true, false, false, -1, ""},
		{head("GET / HTTP/1.0", "Connection: keep-alive", "Upgrade: h2c"), false, false, false, -1, ""},
		{head("GET / HTTP/1.1", "Host: a", "Upgrade: h2c"), false, false, false, -1, "h2c"},
		{head("PUT / HTTP/1.1", "Host: a", "Expect: 100-Continue", "Content-Length: 3"), false, true, false, 3, ""},
		{head("PUT / HTTP/1.0", "Expect: 100-continue", "Content-Length: 3"), true, false, false, 3, ""},
		{head("PUT / HTTP/1.1", "Host: a", "Expect: 200-ok"), false, false, true, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var r Request
			if err := ParseRequest([]byte(tt.in), &r); err != nil {
				t.Fatalf("ParseRequest(%q) = %v, want nil", tt.in, err)
			}
			got := []any{r.Close, r.ExpectContinue, r.ExpectOther, r.ContentLength, string(r.Upgrade)}
			want := []any{tt.close, tt.expect, tt.expx, tt.length, tt.upgrade}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("ParseRequest(%q): Close, ExpectContinue, ExpectOther, ContentLength, Upgrade = %v, want %v", tt.in, got, want)
					break
				}
			}
		})
	}
}

func TestParseRequestReusesFields(t *testing.T) {
	var r Request
	a := head("GET / HTTP/1.1", "Host: a", "X: 1", "Y: 2")
	b := head("GET / HTTP/1.1", "Host: b")
	if err := ParseRequest([]byte(a), &r); err != nil {
		t.Fatal(err)
	}
	if err := ParseRequest([]byte(b), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Fields) != 1 || string(r.Host) != "b" {
		t.Errorf("second ParseRequest: Fields = %d, Host = %q; want 1 field and Host b", len(r.Fields), r.Host)
	}
}

func TestValidIPv6(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"::", true}, {"::1", true}, {"1::", true}, {"1:2:3:4:5:6:7:8", true},
		{"1:2:3:4:5:6:7::", true}, {"1:2:3:4:5:6:7:8::", false}, {"::2:3:4:5:6:7:8", true}, {"1:2:3:4:5:6:1.2.3.4", true},
		{"::ffff:1.2.3.4", true}, {"1.2.3.4", false}, {"1:2:3:4:5:6:7", false},
		{"1:2:3:4:5:6:7:8:9", false}, {":1", false}, {"1:", false}, {"1:::2", false},
		{"1::2::3", false}, {"12345::", false}, {"::1.2.3", false}, {"::01.2.3.4", false},
		{"::256.1.1.1", false}, {"::1.2.3.4:5", false}, {"g::", false}, {"", false},
	}
	for _, tt := range tests {
		if got := validIPv6([]byte(tt.in)); got != tt.want {
			t.Errorf("validIPv6(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
