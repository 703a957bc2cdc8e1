package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// browserHead is a request head as a desktop browser sends it: 15 fields.
var browserHead = head(
	"GET /assets/app.js?v=1234 HTTP/1.1",
	"Host: www.example.com",
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	"Accept-Language: en-US,en;q=0.5",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Referer: https://www.example.com/",
	"Connection: keep-alive",
	"Cookie: session=4f2a9c1e0b7d4e53; theme=dark; consent=1",
	"Upgrade-Insecure-Requests: 1",
	"Sec-Fetch-Dest: script",
	"Sec-Fetch-Mode: no-cors",
	"Sec-Fetch-Site: same-origin",
	"Priority: u=2",
	"If-None-Match: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
	"Cache-Control: max-age=0",
)

// loopReader serves the same bytes again and again, like a keep-alive client
// sending the same request, never returning an error.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func TestParseRequestAllocs(t *testing.T) {
	h := []byte(browserHead)
	var r Request
	allocs := testing.AllocsPerRun(1000, func() {
		if err := ParseRequest(h, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseRequest(browser head) allocates %v times per run, want 0", allocs)
	}
	if len(r.Fields) != 15 {
		t.Errorf("ParseRequest(browser head) = %d fields, want 15", len(r.Fields))
	}
}

func TestParseRejectAllocs(t *testing.T) {
	h := []byte(head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5"))
	var r Request
	allocs := testing.AllocsPerRun(1000, func() {
		if ParseRequest(h, &r) == nil {
			t.Fatal("accepted")
		}
	})
	if allocs != 0 {
		t.Errorf("ParseRequest(bad head) allocates %v times per run, want 0", allocs)
	}
}

func TestReadHeadAllocs(t *testing.T) {
	b := NewReader(&loopReader{data: []byte(browserHead)}, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := b.ReadHead(65536); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadHead allocates %v times per run, want 0", allocs)
	}
}

func TestChunkedReaderAllocs(t *testing.T) {
	body := chunkedBody(16384, 1024)
	src := bytes.NewReader(body)
	b := NewReader(src, 4096)
	var c ChunkedReader
	p := make([]byte, 8192)
	allocs := testing.AllocsPerRun(200, func() {
		src.Reset(body)
		b.Reset(src)
		c.Reset(b)
		for {
			if _, err := c.Read(p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("decoding a chunked body allocates %v times per run, want 0", allocs)
	}
}

func TestResponseAllocs(t *testing.T) {
	h := []byte(head("HTTP/1.1 200 OK", "Content-Type: text/html", "Content-Length: 1234",
		"Cache-Control: no-cache", "Date: Mon, 01 Jan 2024 00:00:00 GMT", "Server: demo"))
	var r Response
	if allocs := testing.AllocsPerRun(1000, func() { _ = ParseResponse(h, false, &r) }); allocs != 0 {
		t.Errorf("ParseResponse allocates %v times per run, want 0", allocs)
	}
}

// chunkedBody encodes size bytes of data in chunks of chunk bytes.
func chunkedBody(size, chunk int) []byte {
	var b bytes.Buffer
	data := strings.Repeat("x", chunk)
	for size > 0 {
		n := min(size, chunk)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, data[:n])
		size -= n
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func BenchmarkParseRequest(b *testing.B) {
	h := []byte(browserHead)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(h)))
	for b.Loop() {
		if err := ParseRequest(h, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadHead(b *testing.B) {
	rd := NewReader(&loopReader{data: []byte(browserHead)}, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(browserHead)))
	for b.Loop() {
		if _, err := rd.ReadHead(65536); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadAndParseRequest(b *testing.B) {
	rd := NewReader(&loopReader{data: []byte(browserHead)}, 4096)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(browserHead)))
	for b.Loop() {
		h, err := rd.ReadHead(65536)
		if err != nil {
			b.Fatal(err)
		}
		if err := ParseRequest(h, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	h := []byte(head("HTTP/1.1 200 OK", "Content-Type: text/html", "Content-Length: 1234",
		"Cache-Control: no-cache", "Date: Mon, 01 Jan 2024 00:00:00 GMT", "Server: demo"))
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseResponse(h, false, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedReader(b *testing.B) {
	for _, chunk := range []int{64, 4096, 32768} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			body := chunkedBody(1<<20, chunk)
			src := bytes.NewReader(body)
			rd := NewReader(src, 4096)
			var c ChunkedReader
			p := make([]byte, 32768)
			b.ReportAllocs()
			b.SetBytes(1 << 20)
			for b.Loop() {
				src.Reset(body)
				rd.Reset(src)
				c.Reset(rd)
				for {
					if _, err := c.Read(p); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkNetHTTPReadRequest is the yardstick: net/http reading the same
// head.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	h := []byte(browserHead)
	src := bytes.NewReader(h)
	br := bufio.NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(h)))
	for b.Loop() {
		src.Reset(h)
		br.Reset(src)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}
