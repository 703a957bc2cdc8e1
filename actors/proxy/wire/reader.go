package wire

import (
	"bytes"
	"io"
)

// minReaderSize is the smallest buffer NewReader makes: room for a typical
// request head and for any chunk-size line in one read.
const minReaderSize = 512

// maxEmptyReads is how many times in a row the source may return neither
// bytes nor an error before the Reader gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// Reader buffers the bytes of one connection. It is owned by the goroutine
// that serves the connection: no method is safe for concurrent use. Slices it
// returns alias its buffer and stay valid only until the next call of any of
// its methods, Buffered excepted.
//
// The buffer starts at the size given to NewReader. ReadHead may grow it, up
// to its limit, for one large head; once the grown buffer has been drained the
// Reader returns to its original buffer, so a connection that once sent a large
// head does not keep the memory.
type Reader struct {
	src   io.Reader
	buf   []byte // buf[r:w] are the bytes read from src and not yet consumed
	small []byte // the buffer made by NewReader, restored when a grown one drains
	r, w  int
	err   error // an error src returned along with bytes, reported by the next read of src
}

// NewReader returns a Reader over src with a buffer of size bytes (at least
// 512). It allocates the buffer once; steady-state use allocates nothing.
func NewReader(src io.Reader, size int) *Reader {
	size = max(size, minReaderSize)
	buf := make([]byte, size)
	return &Reader{src: src, buf: buf, small: buf}
}

// Reset discards any buffered bytes and pending error and makes the Reader
// read from src, keeping its original buffer. It lets a pool reuse Readers.
func (b *Reader) Reset(src io.Reader) {
	*b = Reader{src: src, buf: b.small, small: b.small}
}

// Buffered returns the number of bytes that can be consumed without reading
// from the source. It never blocks.
func (b *Reader) Buffered() int { return b.w - b.r }

// Read reads into p: buffered bytes first, without touching the source;
// otherwise one read of the source, straight into p when p is at least as large
// as the buffer. It blocks only when nothing is buffered. Read implements
// io.Reader.
func (b *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			return b.readSrc(p)
		}
		if err := b.fill(len(b.buf)); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// Peek returns the next n bytes without consuming them, reading from the
// source until that many are buffered; it blocks only while fewer than n are.
// If the source fails first, Peek returns the bytes buffered and the error. An
// n larger than the buffer returns the buffered bytes and ErrBufferFull. After
// a protocol switch, Peek(Buffered()) hands the bytes the client already sent
// to the tunnel without blocking. The result aliases the buffer.
func (b *Reader) Peek(n int) ([]byte, error) {
	n = max(n, 0)
	for b.w-b.r < n {
		if n > len(b.buf) {
			return b.buf[b.r:b.w], ErrBufferFull
		}
		if err := b.fill(len(b.buf)); err != nil {
			return b.buf[b.r:b.w], err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips the next n bytes, reading from the source (and blocking) when
// fewer are buffered. It returns the number of bytes skipped and, when that is
// less than n, the error that stopped it.
func (b *Reader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if b.r == b.w {
			if err := b.fill(len(b.buf)); err != nil {
				return done, err
			}
		}
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
	}
	return done, nil
}

// ReadHead returns one message head: the bytes from the current position up to
// and including the empty line that ends the head. It reads from the source
// (blocking) until that line arrives. The result aliases the buffer and is
// valid until the next call of a Reader method; the bytes after it stay
// buffered for the body.
//
// The head ends at the first empty line, whether ended by CRLF or by a bare LF,
// so that a peer using bare LF gets a prompt rejection from ParseRequest or
// ParseResponse rather than a timeout.
//
// Errors: ErrHeadTooLarge when the head does not end within limit bytes, which
// must be positive (the Reader never buffers more than max(limit, its size)
// for a head); io.EOF when
// the source ended before any byte of a head; io.ErrUnexpectedEOF when it
// ended inside one; otherwise the source's error, such as a deadline. After an
// error other than ErrHeadTooLarge, Buffered tells whether any byte of the head
// had arrived.
func (b *Reader) ReadHead(limit int) ([]byte, error) {
	scanned := 0   // bytes after b.r already searched for LF
	lineStart := 0 // offset from b.r where the current line begins
	for {
		for {
			i := bytes.IndexByte(b.buf[b.r+scanned:b.w], '\n')
			if i < 0 {
				scanned = b.w - b.r
				break
			}
			lf := scanned + i
			if n := lf - lineStart; n == 0 || n == 1 && b.buf[b.r+lineStart] == '\r' {
				if lf+1 > limit {
					return nil, ErrHeadTooLarge
				}
				head := b.buf[b.r : b.r+lf+1]
				b.r += lf + 1
				return head, nil
			}
			scanned = lf + 1
			lineStart = scanned
		}
		if b.w-b.r >= limit {
			return nil, ErrHeadTooLarge
		}
		if err := b.fill(limit); err != nil {
			if err == io.EOF {
				if b.r == b.w {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// line consumes and returns the next line through its LF, reading from the
// source (blocking) until it is complete. A line longer than limit bytes
// returns tooLong.
func (b *Reader) line(limit int, tooLong error) ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(b.buf[b.r+scanned:b.w], '\n'); i >= 0 {
			end := scanned + i + 1
			if end > limit {
				return nil, tooLong
			}
			l := b.buf[b.r : b.r+end]
			b.r += end
			return l, nil
		}
		scanned = b.w - b.r
		if scanned >= limit {
			return nil, tooLong
		}
		if err := b.fill(limit); err != nil {
			return nil, err
		}
	}
}

// hasLine reports whether a whole line is buffered, so that reading it will
// not block.
func (b *Reader) hasLine() bool {
	return bytes.IndexByte(b.buf[b.r:b.w], '\n') >= 0
}

// fill reads once from the source into the buffer, first moving the unread
// bytes to its start and, when they fill it, growing it up to limit bytes. It
// returns nil when at least one byte was added; an error the source returned
// with those bytes is kept for the next read.
func (b *Reader) fill(limit int) error {
	switch {
	case b.r == b.w:
		b.r, b.w = 0, 0
		if len(b.buf) != len(b.small) {
			b.buf = b.small
		}
	case b.r > 0:
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.w == len(b.buf) {
		size := min(2*len(b.buf), limit)
		if size <= len(b.buf) {
			return ErrBufferFull
		}
		grown := make([]byte, size)
		copy(grown, b.buf[:b.w])
		b.buf = grown
	}
	n, err := b.readSrc(b.buf[b.w:])
	b.w += n
	if n > 0 {
		b.err = err
		return nil
	}
	return err
}

// readSrc reads once from the source into p, reporting first an error kept
// from an earlier read.
func (b *Reader) readSrc(p []byte) (int, error) {
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	for range maxEmptyReads {
		n, err := b.src.Read(p)
		if n < 0 || n > len(p) {
			return 0, errBadRead
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}
