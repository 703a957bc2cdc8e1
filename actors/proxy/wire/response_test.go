package wire

import (
	"strconv"
	"testing"
)

func TestParseResponse(t *testing.T) {
	type want struct {
		status int // 0 when accepted
		code   int
		body   BodyKind
		length int64
		close  bool
	}
	tests := []struct {
		in     string
		isHead bool
		want   want
	}{
		{head("HTTP/1.1 200 OK", "Content-Length: 5"), false, want{0, 200, BodyLength, 5, false}},
		{head("HTTP/1.1 200 OK", "Content-Length: 0"), false, want{0, 200, BodyLength, 0, false}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), false, want{0, 200, BodyChunked, -1, false}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5"), false, want{0, 200, BodyChunked, -1, true}},
		{head("HTTP/1.1 200 OK"), false, want{0, 200, BodyUntilClose, -1, true}},
		{head("HTTP/1.0 200 OK", "Content-Length: 5"), false, want{0, 200, BodyLength, 5, true}},
		{head("HTTP/1.0 200 OK", "Content-Length: 5", "Connection: keep-alive"), false, want{0, 200, BodyLength, 5, false}},
		{head("HTTP/1.1 200 OK", "Content-Length: 5", "Connection: close"), false, want{0, 200, BodyLength, 5, true}},
		{head("HTTP/1.1 200 OK", "Content-Length: 5"), true, want{0, 200, BodyNone, 5, false}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), true, want{0, 200, BodyNone, -1, false}},
		{head("HTTP/1.1 200 OK"), true, want{0, 200, BodyNone, -1, false}},
		{head("HTTP/1.1 204 No Content", "Content-Length: 5"), false, want{0, 204, BodyNone, 5, false}},
		{head("HTTP/1.1 304 Not Modified", "Content-Length: 500"), false, want{0, 304, BodyNone, 500, false}},
		{head("HTTP/1.1 100 Continue"), false, want{0, 100, BodyNone, -1, false}},
		{head("HTTP/1.1 103 Early Hints", "Link: </a>"), false, want{0, 103, BodyNone, -1, false}},
		{head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"), false, want{0, 101, BodyNone, -1, false}},
		{head("HTTP/1.1 200"), false, want{0, 200, BodyUntilClose, -1, true}},
		{head("HTTP/1.1 200 "), false, want{0, 200, BodyUntilClose, -1, true}},
		{head("HTTP/1.1 599 Whatever \x80"), false, want{0, 599, BodyUntilClose, -1, true}},
		// Invalid.
		{head("HTTP/1.1 600 Too High"), false, want{status: 502}},
		{head("HTTP/1.1 099 Low"), false, want{status: 502}},
		{head("HTTP/1.1 +20 OK"), false, want{status: 502}},
		{head("HTTP/1.1 20 OK"), false, want{status: 502}},
		{head("HTTP/1.1 2000 OK"), false, want{status: 502}},
		{head("HTTP/1.1 200OK"), false, want{status: 502}},
		{head("HTTP/1.1  200 OK"), false, want{status: 502}},
		{head("HTTP/1.1 200 O\x00K"), false, want{status: 502}},
		{head("HTTP/1.1 200 O\rK"), false, want{status: 502}},
		{head("HTTP/2.0 200 OK"), false, want{status: 502}},
		{head("HTTP/1.2 200 OK"), false, want{status: 502}},
		{head("http/1.1 200 OK"), false, want{status: 502}},
		{head("ICY 200 OK"), false, want{status: 502}},
		{"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", false, want{status: 502}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\n\n", false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 5"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Content-Length: 5, 5"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Content-Length: -1"), false, want{status: 502}},
		{head("HTTP/1.1 204 No Content", "Content-Length: x"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Content-Length: x"), true, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), false, want{status: 502}},
		{head("HTTP/1.1 304 Not Modified", "Transfer-Encoding: identity"), false, want{status: 502}},
		{head("HTTP/1.0 200 OK", "Transfer-Encoding: chunked"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Trailer: Content-Length"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "X : y"), false, want{status: 502}},
		{head("HTTP/1.1 200 OK", "X: y", " folded"), false, want{status: 502}},
	}
	for _, tt := range tests {
		name := tt.in
		if tt.isHead {
			name = "HEAD/" + name
		}
		t.Run(name, func(t *testing.T) {
			var r Response
			err := ParseResponse([]byte(tt.in), tt.isHead, &r)
			got := want{status: statusOf(err)}
			if err == nil {
				got = want{0, r.Status, r.Body, r.ContentLength, r.Close}
			}
			if got != tt.want {
				t.Errorf("ParseResponse(%q, head=%v) = %+v, want %+v", tt.in, tt.isHead, got, tt.want)
			}
		})
	}
}

func TestResponseInterim(t *testing.T) {
	for code, want := range map[int]bool{100: true, 102: true, 103: true, 199: true, 101: false, 200: false, 204: false} {
		in := head("HTTP/1.1 " + strconv.Itoa(code) + " X")
		var r Response
		if err := ParseResponse([]byte(in), false, &r); err != nil {
			t.Fatalf("ParseResponse(%q) = %v", in, err)
		}
		if r.Interim() != want {
			t.Errorf("Response{Status: %d}.Interim() = %v, want %v", code, r.Interim(), want)
		}
	}
}

func TestParseResponseFields(t *testing.T) {
	in := head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: upgrade", "Sec-WebSocket-Accept: abc")
	var r Response
	if err := ParseResponse([]byte(in), false, &r); err != nil {
		t.Fatal(err)
	}
	if string(r.Reason) != "Switching Protocols" || !r.ConnUpgrade || string(r.Upgrade) != "websocket" || len(r.Fields) != 3 {
		t.Errorf("ParseResponse(%q) = reason %q, ConnUpgrade %v, Upgrade %q, %d fields; want Switching Protocols, true, websocket, 3",
			in, r.Reason, r.ConnUpgrade, r.Upgrade, len(r.Fields))
	}
}
