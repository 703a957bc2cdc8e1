package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkedSeeds are chunked bodies, valid and broken.
var chunkedSeeds = []string{
	"0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"000005\r\nhello\r\n0\r\n\r\n",
	"0000000000000005\r\nhello\r\n0\r\n\r\n",
	"00000000000000005\r\nhello\r\n0\r\n\r\n",
	"10000000000000000\r\n",
	"ffffffffffffffff\r\nx",
	"8000000000000000\r\nx",
	"7fffffffffffffff\r\nx",
	"5;ext\r\nhello\r\n0\r\n\r\n",
	"5;a=b;c=\"q\\\"s\"\r\nhello\r\n0\r\n\r\n",
	"5 ;a\r\nhello\r\n0\r\n\r\n",
	"5; a = b\r\nhello\r\n0\r\n\r\n",
	"5;a\nb\r\nhello\r\n0\r\n\r\n",
	"5;a\rb\r\nhello\r\n0\r\n\r\n",
	"5\nhello\r\n0\r\n\r\n",
	"5\r\nhelloXX0\r\n\r\n",
	"5\r\nhello0\r\n\r\n",
	"5\r\nhello\n0\r\n\r\n",
	"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
	"5\r\nhello\r\n0\r\nX-Sum: 1\r\n folded\r\n\r\n",
	"5\r\nhello\r\n0\r\nX Sum: 1\r\n\r\n",
	"5\r\nhello\r\n0\r\n",
	"5\r\nhel",
	"-1\r\n\r\n",
	"0x5\r\nhello\r\n0\r\n\r\n",
	"5 \r\nhello\r\n0\r\n\r\n",
	"\r\n\r\n",
	strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 200) + "0\r\n\r\n",
}

// FuzzChunked checks that ferrum decodes no chunked body that net/http's
// decoder rejects, that both yield the same data, and that ferrum's result does
// not depend on how its source splits the input or how much the caller reads
// at a time.
func FuzzChunked(f *testing.F) {
	for _, s := range chunkedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := decodeChunked(bytes.NewReader(data), 512, 65536)
		got2, _, err2 := decodeChunked(iotest.OneByteReader(bytes.NewReader(data)), 512, 3)
		if !bytes.Equal(got, got2) || (err == io.EOF) != (err2 == io.EOF) {
			t.Fatalf("ferrum decodes %s differently when read byte by byte: %s, %v then %s, %v",
				clip(data), clip(got), err, clip(got2), err2)
		}
		if err != io.EOF {
			var e *Error
			if err != io.ErrUnexpectedEOF && !errors.As(err, &e) {
				t.Fatalf("ferrum returned an untyped error %v for %s", err, clip(data))
			}
			return
		}
		want, serr := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(bytes.NewReader(data))))
		if serr != nil {
			t.Fatalf("ferrum decodes a chunked body net/http rejects (%v):\n%s", serr, clip(data))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunked data: ferrum %s, net/http %s for\n%s", clip(got), clip(want), clip(data))
		}
	})
}

// responseSeeds are upstream response heads with bodies.
var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 600 Too High\r\n\r\n",
	"HTTP/1.1 099 Low\r\n\r\n",
	"HTTP/1.1 +20 OK\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/1.1  200 OK\r\n\r\n",
	"HTTP/1.1 200\r\n\r\n",
	"HTTP/1.1 200 O\rK\r\n\r\n",
	"HTTP/2.0 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n",
}

// FuzzResponseVsNetHTTP checks that ferrum accepts no response head that
// net/http's response reader rejects, after a GET and after a HEAD, and that
// when both accept they agree on status, body framing, connection reuse and
// body bytes.
func FuzzResponseVsNetHTTP(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, method := range []string{"GET", "HEAD"} {
			compareResponse(t, data, method)
		}
	})
}

// framingOf describes how a body is delimited, in terms both parsers share.
type framingOf struct {
	kind   BodyKind
	length int64 // for BodyLength
}

func compareResponse(t *testing.T, data []byte, method string) {
	rd := NewReader(bytes.NewReader(data), 512)
	var r Response
	h, err := rd.ReadHead(64 << 10)
	if err == nil {
		err = ParseResponse(h, method == "HEAD", &r)
	}
	if err != nil {
		return
	}
	nr, nerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
	if nerr != nil {
		t.Fatalf("after %s, ferrum accepts a response net/http rejects (%v):\n%s", method, nerr, clip(data))
	}
	mismatch := func(what string, got, want any) {
		t.Fatalf("after %s, %s: ferrum %v, net/http %v for\n%s", method, what, got, want, clip(data))
	}
	if r.Status != nr.StatusCode {
		mismatch("status", r.Status, nr.StatusCode)
	}
	got := framingOf{kind: r.Body}
	if r.Body == BodyLength {
		got.length = r.ContentLength
	}
	// net/http's view, from RFC 9112 §6.3 applied to what it parsed.
	var want framingOf
	switch {
	case method == "HEAD" || nr.StatusCode < 200 || nr.StatusCode == 204 || nr.StatusCode == 304:
		want.kind = BodyNone
	case len(nr.TransferEncoding) > 0:
		want.kind = BodyChunked
	case nr.ContentLength >= 0:
		want = framingOf{BodyLength, nr.ContentLength}
	default:
		want.kind = BodyUntilClose
	}
	if got != want {
		mismatch("framing", got, want)
	}
	// ferrum also refuses to reuse a connection after a response with both
	// lengths.
	if r.Close != (nr.Close || r.BothLengths) {
		mismatch("close", r.Close, nr.Close)
	}
	body, ok := readResponseBody(rd, &r)
	if !ok {
		return
	}
	nbody, nerr := io.ReadAll(nr.Body)
	if nerr != nil {
		t.Fatalf("after %s, ferrum reads a body net/http rejects (%v):\n%s", method, nerr, clip(data))
	}
	if !bytes.Equal(body, nbody) {
		mismatch("body", clip(body), clip(nbody))
	}
}

// readResponseBody reads the body r announces from rd and reports whether it
// arrived whole and well framed.
func readResponseBody(rd *Reader, r *Response) ([]byte, bool) {
	switch r.Body {
	case BodyChunked:
		var c ChunkedReader
		c.Reset(rd)
		body, err := io.ReadAll(&c)
		return body, err == nil
	case BodyLength:
		body, err := io.ReadAll(io.LimitReader(rd, r.ContentLength))
		return body, err == nil && int64(len(body)) == r.ContentLength
	case BodyUntilClose:
		body, err := io.ReadAll(rd)
		return body, err == nil
	}
	return nil, true
}
