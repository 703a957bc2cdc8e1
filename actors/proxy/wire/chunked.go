package wire

import (
	"errors"
	"io"
	"math"
)

const (
	// maxChunkLine bounds a chunk-size line, extensions and CRLF included.
	maxChunkLine = 1024
	// maxTrailer bounds the trailer section, its final CRLF included.
	maxTrailer = 4096
	// maxOverhead bounds the framing bytes a body may carry beyond an
	// allowance of 16 bytes per chunk plus twice the chunk's data, so
	// that a peer cannot send a stream of tiny chunks with long
	// extensions and make ferrum work for nothing.
	maxOverhead = 16 << 10
)

type chunkState uint8

const (
	stSize    chunkState = iota // before a chunk-size line
	stData                      // inside a chunk's data
	stDataEnd                   // before the CRLF after a chunk's data
	stTrailer                   // inside the trailer section
)

// ChunkedReader decodes a chunked body (RFC 9112 §7.1) from a Reader. It is
// owned by the goroutine that owns the Reader. The zero value must be Reset
// before use; a ChunkedReader kept per connection and Reset per message
// allocates nothing.
//
// Read returns the data bytes, then io.EOF once the last chunk and the trailer
// section have been consumed, leaving the Reader at the start of the next
// message. The rules: a chunk size is 1 to 16 hex digits and fits an int64;
// extensions follow the size at once and are validated, then ignored; every
// line ends with CRLF; each chunk's data is followed by CRLF; trailer fields
// are checked like header fields and discarded; a size line may be 1 KiB and
// the trailer section 4 KiB. Violations are *Error values with Status 400 and
// stay returned by every later Read. A source that ends mid-body yields
// io.ErrUnexpectedEOF; other source errors (a deadline) are returned as they
// are and leave the decoder where it was, so Read may be called again.
type ChunkedReader struct {
	src      *Reader
	left     int64 // data bytes left in the current chunk
	state    chunkState
	overhead int64 // framing bytes beyond the allowance, see maxOverhead
	trailer  int   // bytes of the trailer section consumed
	err      error // io.EOF or a protocol error, returned from then on
}

// Reset makes c decode a new body from src, which is positioned just after
// the message head.
func (c *ChunkedReader) Reset(src *Reader) {
	*c = ChunkedReader{src: src}
}

// Remaining returns the number of data bytes left in the current chunk: bytes
// a Read can return without parsing more framing. It is 0 between chunks.
func (c *ChunkedReader) Remaining() int64 { return c.left }

// Read decodes data into p. It blocks only while it has nothing to return:
// once it holds data it stops before reading the source again. When p is at
// least as large as the Reader's buffer and nothing is buffered, data is read
// from the source straight into p.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	b := c.src
	n := 0
	for c.err == nil {
		switch c.state {
		case stSize:
			if n > 0 && !b.hasLine() {
				return n, nil
			}
			if err := c.readSize(); err != nil {
				return n, err
			}
		case stData:
			if len(p) == 0 || n > 0 && b.r == b.w {
				return n, nil
			}
			want := int(min(int64(len(p)), c.left))
			m := 0
			switch {
			case b.r < b.w:
				m = copy(p[:want], b.buf[b.r:b.w])
				b.r += m
			case want >= len(b.buf):
				var err error
				if m, err = b.readSrc(p[:want]); err != nil {
					c.take(m)
					return n + m, unexpected(err)
				}
			default:
				if err := b.fill(len(b.buf)); err != nil {
					return n, unexpected(err)
				}
				continue
			}
			c.take(m)
			n += m
			p = p[m:]
		case stDataEnd:
			if n > 0 && b.w-b.r < 2 {
				return n, nil
			}
			crlf, err := b.Peek(2)
			if err != nil {
				return n, unexpected(err)
			}
			if crlf[0] != '\r' || crlf[1] != '\n' {
				c.err = errChunkData
				break
			}
			b.r += 2
			c.state = stSize
		case stTrailer:
			if n > 0 {
				// Finish at once when the trailer section is a
				// bare CRLF already here, the common case.
				if b.w-b.r >= 2 && b.buf[b.r] == '\r' && b.buf[b.r+1] == '\n' {
					b.r += 2
					c.err = io.EOF
				}
				return n, c.err
			}
			if err := c.readTrailerLine(); err != nil {
				return n, err
			}
		}
	}
	return n, c.err
}

// take accounts for m data bytes delivered from the current chunk.
func (c *ChunkedReader) take(m int) {
	c.left -= int64(m)
	if c.left == 0 {
		c.state = stDataEnd
	}
}

// readSize consumes a chunk-size line. It returns only source errors; a
// protocol error goes to c.err.
func (c *ChunkedReader) readSize() error {
	line, err := c.src.line(maxChunkLine, errChunkLine)
	if err != nil {
		return c.fail(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		c.err = errChunkEOL
		return nil
	}
	line = line[:len(line)-2]
	var size int64
	i := 0
	for ; i < len(line) && class[line[i]]&isHex != 0; i++ {
		if i == 16 || size > math.MaxInt64>>4 {
			c.err = errChunkSize
			return nil
		}
		size = size<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		c.err = errChunkSize
		return nil
	}
	if i < len(line) {
		// Extensions start right after the size: no white space before
		// the first ';', as net/http also requires.
		if line[i] != ';' {
			c.err = errChunkSize
			return nil
		}
		if !validChunkExt(line[i:]) {
			c.err = errChunkExt
			return nil
		}
	}
	// The line without its CRLF, plus that CRLF and the one after the data.
	framingBytes := int64(len(line)) + 4
	if size > maxOverhead {
		c.overhead = 0
	} else {
		c.overhead = max(c.overhead+framingBytes-16-2*size, 0)
	}
	if c.overhead > maxOverhead {
		c.err = errChunkOverhead
		return nil
	}
	if size == 0 {
		c.state = stTrailer
		return nil
	}
	c.left, c.state = size, stData
	return nil
}

// readTrailerLine consumes one line of the trailer section.
func (c *ChunkedReader) readTrailerLine() error {
	line, err := c.src.line(maxTrailer-c.trailer, errTrailerSize)
	if err != nil {
		return c.fail(err)
	}
	c.trailer += len(line)
	if len(line) < 2 || line[len(line)-2] != '\r' {
		c.err = errChunkEOL
		return nil
	}
	line = line[:len(line)-2]
	if len(line) == 0 {
		c.err = io.EOF
		return nil
	}
	if _, _, ok := parseFieldLine(line); !ok {
		c.err = errTrailer
	}
	return nil
}

// fail sorts an error from Reader.line: protocol errors become sticky,
// source errors are returned, with a clean end of input made unexpected.
func (c *ChunkedReader) fail(err error) error {
	var perr *Error
	if errors.As(err, &perr) {
		c.err = err
		return nil
	}
	return unexpected(err)
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF: inside a chunked body the
// end of the input is always premature.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// unhex returns the value of hex digit c.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// validChunkExt reports whether s, which starts with ';', is a valid list of
// chunk extensions: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
func validChunkExt(s []byte) bool {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		start := i
		for i < len(s) && class[s[i]]&isToken != 0 {
			i++
		}
		return i > start
	}
	for i < len(s) {
		ws()
		if i == len(s) || s[i] != ';' {
			return false
		}
		i++
		ws()
		if !token() {
			return false
		}
		j := i
		ws()
		if i == len(s) || s[i] != '=' {
			i = j
			continue
		}
		i++
		ws()
		if i < len(s) && s[i] == '"' {
			if !quotedString(s, &i) {
				return false
			}
		} else if !token() {
			return false
		}
	}
	return true
}

// quotedString consumes the quoted-string starting at s[*i].
func quotedString(s []byte, i *int) bool {
	for j := *i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			*i = j + 1
			return true
		case c == '\\':
			j++
			if j == len(s) || class[s[j]]&isValue == 0 {
				return false
			}
		case class[c]&isQdtext == 0:
			return false
		}
	}
	return false
}
