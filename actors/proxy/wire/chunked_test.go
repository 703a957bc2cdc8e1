package wire

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeChunked decodes src with a ChunkedReader and returns the data, what
// is left in the source after the body, and the final error.
func decodeChunked(src io.Reader, size, readSize int) (data, rest []byte, err error) {
	b := NewReader(src, size)
	var c ChunkedReader
	c.Reset(b)
	p := make([]byte, readSize)
	for {
		n, rerr := c.Read(p)
		data = append(data, p[:n]...)
		if rerr != nil {
			err = rerr
			break
		}
	}
	rest, _ = io.ReadAll(b)
	return data, rest, err
}

func TestChunkedReader(t *testing.T) {
	big := strings.Repeat("z", 5000)
	tests := []struct {
		in       string
		data     string
		wantErr  int // 0: io.EOF at the end; 400: a *Error; -1: io.ErrUnexpectedEOF
		wantRest string
	}{
		{"5\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", 0, "NEXT"},
		{"0\r\n\r\n", "", 0, ""},
		{"000\r\n\r\n", "", 0, ""},
		{"A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, ""},
		{"a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, ""},
		{"0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"1388\r\n" + big + "\r\n0\r\n\r\n", big, 0, ""},
		{"5;a=b\r\nhello\r\n0;c;d=\"x y\\\"\"\r\n\r\n", "hello", 0, ""},
		{"5;a = b ;c\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\nNEXT", "hello", 0, "NEXT"},
		// Sizes.
		{"\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"x\r\n", "", 400, ""},
		{"-5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"0x5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5 \r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{" 5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"00000000000000005\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"8000000000000000\r\n", "", 400, ""},
		{"ffffffffffffffff\r\n", "", 400, ""},
		{"fffffffffffffffff\r\n", "", 400, ""},
		{"7fffffffffffffff\r\nab", "ab", -1, ""},
		// Line endings.
		{"5\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5\r\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5\r\nhello\n0\r\n\r\n", "hello", 400, ""},
		{"5\r\nhelloXX0\r\n\r\n", "hello", 400, ""},
		{"5\r\nhello0\r\n\r\n", "hello", 400, ""},
		{"5\r\nhello\r\n0\n\r\n", "hello", 400, ""},
		{"5\r\nhello\r\n0\r\n\n", "hello", 400, ""},
		// Extensions.
		{"5 ;a\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a \r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a=\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a=\"x\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a\nb\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a\x00\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a\rb\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;a=b c\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;" + strings.Repeat("a", 2000) + "\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{strings.Repeat("1;"+strings.Repeat("e", 200)+"\r\nx\r\n", 200) + "0\r\n\r\n", strings.Repeat("x", 87), 400, ""},
		// Trailers.
		{"0\r\nX : y\r\n\r\n", "", 400, ""},
		{"0\r\nX: y\r\n z\r\n\r\n", "", 400, ""},
		{"0\r\n X: y\r\n\r\n", "", 400, ""},
		{"0\r\nX: a\x00b\r\n\r\n", "", 400, ""},
		{"0\r\nX: y\n\r\n", "", 400, ""},
		{"0\r\nX: " + strings.Repeat("y", 5000) + "\r\n\r\n", "", 400, ""},
		// Premature ends.
		{"", "", -1, ""},
		{"5\r\nhel", "hel", -1, ""},
		{"5\r\nhello", "hello", -1, ""},
		{"5\r\nhello\r", "hello", -1, ""},
		{"5\r\nhello\r\n", "hello", -1, ""},
		{"5\r\nhello\r\n0\r\n", "hello", -1, ""},
		{"5\r\nhello\r\n0\r\nX: y\r\n", "hello", -1, ""},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
		size int
		read int
	}{
		{"whole", func(r io.Reader) io.Reader { return r }, 4096, 4096},
		{"byte by byte", iotest.OneByteReader, 512, 7},
		{"large reads", iotest.HalfReader, 512, 16384},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(rd.name+"/"+short(tt.in), func(t *testing.T) {
				data, rest, err := decodeChunked(rd.wrap(strings.NewReader(tt.in)), rd.size, rd.read)
				var gotErr int
				switch {
				case err == io.EOF:
				case err == io.ErrUnexpectedEOF:
					gotErr = -1
				default:
					gotErr = statusOf(err)
				}
				if string(data) != tt.data || gotErr != tt.wantErr {
					t.Errorf("decode(%q) = %q, %v (%d), want %q, %d", short(tt.in), short(string(data)), err, gotErr, short(tt.data), tt.wantErr)
				}
				if tt.wantErr == 0 && string(rest) != tt.wantRest {
					t.Errorf("decode(%q) left %q, want %q", short(tt.in), short(string(rest)), tt.wantRest)
				}
			})
		}
	}
}

// short abbreviates long test inputs for test names and messages.
func short(s string) string {
	if len(s) <= 48 {
		return s
	}
	return s[:40] + "..." + strconv.Itoa(len(s)) + "B"
}

func TestChunkedReaderErrorSticks(t *testing.T) {
	b := NewReader(strings.NewReader("5\r\nhelloXX0\r\n\r\n"), 0)
	var c ChunkedReader
	c.Reset(b)
	p := make([]byte, 64)
	var errs []error
	for range 3 {
		_, err := c.Read(p)
		errs = append(errs, err)
	}
	var e *Error
	if !errors.As(errs[2], &e) || errs[1] != errs[2] {
		t.Errorf("Read errors = %v, want the same *Error repeated", errs)
	}
}

// timeoutOnce fails its first read with errTimeout, then reads from r.
type timeoutOnce struct {
	r     io.Reader
	fired bool
}

var errTimeout = errors.New("timeout")

func (s *timeoutOnce) Read(p []byte) (int, error) {
	if !s.fired {
		s.fired = true
		return 0, errTimeout
	}
	return s.r.Read(p)
}

func TestChunkedReaderSourceErrorRetries(t *testing.T) {
	src := io.MultiReader(strings.NewReader("5\r\nhe"), &timeoutOnce{r: strings.NewReader("llo\r\n0\r\n\r\n")})
	b := NewReader(src, 0)
	var c ChunkedReader
	c.Reset(b)
	var got []byte
	var errs []error
	p := make([]byte, 64)
	for range 10 {
		n, err := c.Read(p)
		got = append(got, p[:n]...)
		errs = append(errs, err)
		if err == io.EOF {
			break
		}
	}
	if string(got) != "hello" || !errors.Is(errs[len(errs)-1], io.EOF) {
		t.Errorf("Read = %q with errors %v, want hello then EOF", got, errs)
	}
	if !bytes.Contains([]byte(strings.Join(errorStrings(errs), ",")), []byte("timeout")) {
		t.Errorf("errors %v never reported the timeout", errs)
	}
}

func errorStrings(errs []error) []string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = "<nil>"
		if e != nil {
			s[i] = e.Error()
		}
	}
	return s
}

func TestChunkedReaderReadsLargeDataDirectly(t *testing.T) {
	data := strings.Repeat("d", 100000)
	src := &countingReader{r: strings.NewReader("186a0\r\n" + data + "\r\n0\r\n\r\n")}
	b := NewReader(src, 1024)
	var c ChunkedReader
	c.Reset(b)
	p := make([]byte, 65536)
	total := 0
	for total < len(data) {
		n, err := c.Read(p)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", total, err)
		}
		total += n
		if total < len(data) && c.Remaining() != int64(len(data)-total) {
			t.Fatalf("Remaining() = %d after %d bytes, want %d", c.Remaining(), total, len(data)-total)
		}
	}
	if src.largestP != 65536 {
		t.Errorf("largest read of the source = %d bytes, want 65536: data should go straight into p", src.largestP)
	}
	if n, err := c.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v, want 0, EOF", n, err)
	}
}
