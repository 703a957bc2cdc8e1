package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// errRequestTooLarge ends a request body that crossed max_request_body_bytes.
var errRequestTooLarge = errors.New("request body over max_request_body_bytes")

// bodyReader is the request body as the backend reads it: it bounds the
// pause between client reads (client_body_timeout) and the total size
// (max_request_body_bytes), and remembers the first error the client caused,
// so that failure is never charged to the backend. Close does not close the
// client's body: a connect failure leaves it unread for the next attempt.
type bodyReader struct {
	src   io.Reader
	rc    *http.ResponseController
	pause time.Duration
	limit int64
	n     int64
	want  int64 // the declared length, or -1 for a chunked body
	err   error // first client-side error; read by the request goroutine after the attempt
	done  bool  // EOF seen
}

func newBodyReader(w http.ResponseWriter, r *http.Request, pause time.Duration, limit int64) *bodyReader {
	return &bodyReader{src: r.Body, rc: http.NewResponseController(w), pause: pause, limit: limit, want: r.ContentLength}
}

// complete reports whether the whole body has been read from the client.
func (b *bodyReader) complete() bool {
	return b.err == nil && (b.done || (b.want >= 0 && b.n == b.want))
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	// A deadline the server does not support (HTTP/2) just means no pause limit.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.pause))
	n, err := b.src.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.err = errRequestTooLarge
		return 0, b.err
	}
	switch {
	case err == io.EOF:
		b.done = true
		// Clear the deadline, or the server's check for a closed
		// connection could trip on it while the backend answers.
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		b.err = err
	}
	return n, err
}

// Close keeps the client's body open for a possible next attempt.
func (b *bodyReader) Close() error { return nil }

// failure classifies the client-side error seen while reading the body.
func (b *bodyReader) failure() failure {
	f := failure{client: true, sent: b.n > 0}
	switch {
	case errors.Is(b.err, errRequestTooLarge):
		f.kind, f.status = KindRequestTooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(b.err, os.ErrDeadlineExceeded):
		f.kind, f.status = KindClientBodyTimeout, http.StatusRequestTimeout
	case isChunkError(b.err):
		f.kind, f.status = KindBadRequest, http.StatusBadRequest
	default:
		f.kind, f.status = KindClientDisconnect, 499
	}
	return f
}

// isChunkError reports a malformed chunked request body, as net/http's
// chunked reader words it.
func isChunkError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "chunk") || strings.Contains(s, "malformed")
}

// readFull reads a body of known length n whole, for replay.
func (b *bodyReader) readFull(n int64) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(b, buf); err != nil {
		if b.err == nil {
			b.err = err
		}
		return nil, b.err
	}
	_ = b.rc.SetReadDeadline(time.Time{})
	return buf, nil
}

// bufPool holds the buffers responses are copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// errResponseTooLarge ends a response body that crossed max_response_body_bytes.
var errResponseTooLarge = errors.New("response body over max_response_body_bytes")

// errBodyTimeout ends a response whose backend paused longer than read_timeout.
var errBodyTimeout = errors.New("upstream paused longer than read_timeout inside the body")

// errClientWrite marks a failed write to the client.
type errClientWrite struct{ err error }

func (e *errClientWrite) Error() string { return "write to client: " + e.err.Error() }
func (e *errClientWrite) Unwrap() error { return e.err }

// copyResponse streams body to w; the body itself bounds each pause of the
// backend (read_timeout). Whatever was copied is flushed to the client
// before the next read could wait on the backend, so bytes reach the client
// as the backend sends them, while a fast body still goes out in large
// writes.
func copyResponse(w http.ResponseWriter, body io.Reader, limit int64) (int64, error) {
	p, _ := body.(interface{ pending() bool })
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	var written int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if written+int64(n) > limit {
				n = int(limit - written)
				rerr = errResponseTooLarge
			}
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, &errClientWrite{werr}
			}
			if p == nil || !p.pending() {
				if err := rc.Flush(); err != nil {
					return written, &errClientWrite{err}
				}
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}
