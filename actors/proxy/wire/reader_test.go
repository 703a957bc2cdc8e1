package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadHead(t *testing.T) {
	errDeadline := errors.New("deadline")
	tests := []struct {
		name    string
		src     io.Reader
		limit   int
		heads   []string // heads expected in order
		wantErr error    // after the heads
	}{
		{"one head", strings.NewReader("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1024,
			[]string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, io.EOF},
		{"pipelined", strings.NewReader("A\r\n\r\nB\r\nx: y\r\n\r\n"), 1024,
			[]string{"A\r\n\r\n", "B\r\nx: y\r\n\r\n"}, io.EOF},
		{"byte by byte", iotest.OneByteReader(strings.NewReader("A\r\nb: c\r\n\r\nD\r\n\r\n")), 1024,
			[]string{"A\r\nb: c\r\n\r\n", "D\r\n\r\n"}, io.EOF},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("A\r\n\r\n")), 1024,
			[]string{"A\r\n\r\n"}, io.EOF},
		{"bare LF ends the head", strings.NewReader("A\nb: c\n\nrest"), 1024,
			[]string{"A\nb: c\n\n"}, io.ErrUnexpectedEOF},
		{"CRLF then LF", strings.NewReader("A\r\n\n"), 1024, []string{"A\r\n\n"}, io.EOF},
		{"CR alone is not an end", strings.NewReader("A\r\n\r\r\n\r\n"), 1024, []string{"A\r\n\r\r\n\r\n"}, io.EOF},
		{"empty source", strings.NewReader(""), 1024, nil, io.EOF},
		{"cut mid-head", strings.NewReader("GET / HTTP/1.1\r\nHo"), 1024, nil, io.ErrUnexpectedEOF},
		{"source error", io.MultiReader(strings.NewReader("GET /"), iotest.ErrReader(errDeadline)), 1024,
			nil, errDeadline},
		{"exactly the limit", strings.NewReader("ABCD\r\n\r\n"), 8, []string{"ABCD\r\n\r\n"}, io.EOF},
		{"one over the limit", strings.NewReader("ABCDE\r\n\r\n"), 8, nil, ErrHeadTooLarge},
		{"over the limit, never ending", strings.NewReader(strings.Repeat("x", 5000)), 2000, nil, ErrHeadTooLarge},
		{"grows past the buffer", strings.NewReader("A\r\nb: " + strings.Repeat("v", 3000) + "\r\n\r\n"), 8192,
			[]string{"A\r\nb: " + strings.Repeat("v", 3000) + "\r\n\r\n"}, io.EOF},
		{"large head over the limit", strings.NewReader("A\r\nb: " + strings.Repeat("v", 9000) + "\r\n\r\n"), 8192,
			nil, ErrHeadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewReader(tt.src, 0)
			for _, want := range tt.heads {
				got, err := b.ReadHead(tt.limit)
				if err != nil || string(got) != want {
					t.Fatalf("ReadHead() = %q, %v, want %q, nil", got, err, want)
				}
			}
			var err error
			for range 2 { // a clean end repeats; checks nothing was left behind
				_, err = b.ReadHead(tt.limit)
				if err != io.EOF {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ReadHead() after the heads: error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReadHeadKeepsBodyBytes(t *testing.T) {
	b := NewReader(strings.NewReader("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloNEXT"), 0)
	if _, err := b.ReadHead(1024); err != nil {
		t.Fatal(err)
	}
	if b.Buffered() != 9 {
		t.Errorf("Buffered() after the head = %d, want 9", b.Buffered())
	}
	body := make([]byte, 5)
	if _, err := io.ReadFull(b, body); err != nil || string(body) != "hello" {
		t.Errorf("body = %q, %v, want hello", body, err)
	}
	p, err := b.Peek(b.Buffered())
	if err != nil || string(p) != "NEXT" {
		t.Errorf("Peek(Buffered()) = %q, %v, want NEXT", p, err)
	}
}

func TestReaderReturnsToSmallBuffer(t *testing.T) {
	big := "A\r\nb: " + strings.Repeat("v", 3000) + "\r\n\r\n"
	b := NewReader(strings.NewReader(big+"C\r\n\r\n"), 512)
	if _, err := b.ReadHead(8192); err != nil {
		t.Fatal(err)
	}
	if len(b.buf) <= 512 {
		t.Fatalf("buffer = %d bytes after a 3 KB head, want it grown", len(b.buf))
	}
	if h, err := b.ReadHead(8192); err != nil || string(h) != "C\r\n\r\n" {
		t.Fatalf("ReadHead() = %q, %v, want C", h, err)
	}
	if _, err := b.ReadHead(8192); err != io.EOF {
		t.Fatalf("ReadHead() at the end = %v, want EOF", err)
	}
	if len(b.buf) != 512 {
		t.Errorf("buffer = %d bytes once drained, want 512", len(b.buf))
	}
}

// countingReader counts the reads made of it and their sizes.
type countingReader struct {
	r        io.Reader
	reads    int
	largestP int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	c.largestP = max(c.largestP, len(p))
	return c.r.Read(p)
}

func TestReaderReadDirect(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 10000)
	src := &countingReader{r: bytes.NewReader(data)}
	b := NewReader(src, 1024)
	p := make([]byte, 8192)
	n, err := b.Read(p)
	if err != nil || n != 8192 {
		t.Fatalf("Read(8192) = %d, %v, want 8192, nil", n, err)
	}
	if src.reads != 1 || src.largestP != 8192 {
		t.Errorf("source saw %d reads of up to %d bytes, want 1 of 8192 (straight into p)", src.reads, src.largestP)
	}
	small := make([]byte, 10)
	if n, err := b.Read(small); err != nil || n != 10 || b.Buffered() != 1024-10 {
		t.Errorf("Read(10) = %d, %v with %d buffered, want 10 bytes and 1014 buffered", n, err, b.Buffered())
	}
}

func TestReaderPeekDiscard(t *testing.T) {
	b := NewReader(iotest.OneByteReader(strings.NewReader("0123456789")), 512)
	if p, err := b.Peek(4); err != nil || string(p) != "0123" {
		t.Errorf("Peek(4) = %q, %v, want 0123", p, err)
	}
	if n, err := b.Discard(6); err != nil || n != 6 {
		t.Errorf("Discard(6) = %d, %v, want 6, nil", n, err)
	}
	if p, err := b.Peek(600); err != ErrBufferFull {
		t.Errorf("Peek(600) = %q, %v, want ErrBufferFull", p, err)
	}
	if p, err := b.Peek(10); err != io.EOF || string(p) != "6789" {
		t.Errorf("Peek(10) = %q, %v, want 6789, EOF", p, err)
	}
	if n, err := b.Discard(10); err != io.EOF || n != 4 {
		t.Errorf("Discard(10) = %d, %v, want 4, EOF", n, err)
	}
}

func TestReaderReset(t *testing.T) {
	b := NewReader(strings.NewReader("A\r\n\r\nleft"), 0)
	if _, err := b.ReadHead(100); err != nil {
		t.Fatal(err)
	}
	b.Reset(strings.NewReader("B\r\n\r\n"))
	if b.Buffered() != 0 {
		t.Errorf("Buffered() after Reset = %d, want 0", b.Buffered())
	}
	if h, err := b.ReadHead(100); err != nil || string(h) != "B\r\n\r\n" {
		t.Errorf("ReadHead() after Reset = %q, %v, want B", h, err)
	}
}

// stuckReader returns neither data nor an error.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	b := NewReader(stuckReader{}, 0)
	if _, err := b.ReadHead(100); err != io.ErrNoProgress {
		t.Errorf("ReadHead() on a stuck source = %v, want io.ErrNoProgress", err)
	}
}
