package fakebackend

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"time"
)

// fillerPattern repeats through every filler byte, so a test can check the
// content of a large body and not only its size.
const fillerPattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"

// filler is the shared source of large bodies: every answer writes slices of
// it instead of building its own body. Its length is a multiple of the
// pattern, so consecutive writes continue the pattern without a seam. Never
// written after init.
var filler = func() []byte {
	b := make([]byte, 512*len(fillerPattern))
	for i := range b {
		b[i] = fillerPattern[i%len(fillerPattern)]
	}
	return b
}()

// copyBuffers holds the buffers that request bodies are read through, so
// uploads do not allocate a fresh one per request.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// readBody reads body to its end without keeping it, and returns its length
// and hex SHA-256. A server request without a body has http.NoBody, which is
// answered without hashing.
func readBody(body io.Reader) (int64, string, error) {
	if body == nil || body == http.NoBody {
		return 0, emptySHA256[0], nil
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	h := sha256.New()
	n, err := io.CopyBuffer(h, body, *buf)
	if err != nil {
		return n, "", err
	}
	if n == 0 {
		return 0, emptySHA256[0], nil
	}
	var sum [sha256.Size]byte
	return n, hex.EncodeToString(h.Sum(sum[:0])), nil
}

// bodySize is the length of the body writeBody writes for bodyBytes.
func bodySize(nameLine []byte, bodyBytes int) int {
	if bodyBytes == 0 {
		return len(nameLine)
	}
	return bodyBytes
}

// writeBody writes the name line, then filler up to exactly bodyBytes bytes
// in all (0 means the name line alone). It stops at the first write error:
// the client has gone and there is no one to tell.
func writeBody(w io.Writer, nameLine []byte, bodyBytes int) {
	if bodyBytes == 0 {
		w.Write(nameLine)
		return
	}
	head := nameLine[:min(len(nameLine), bodyBytes)]
	if _, err := w.Write(head); err != nil {
		return
	}
	for left := bodyBytes - len(head); left > 0; {
		n := min(left, len(filler))
		if _, err := w.Write(filler[:n]); err != nil {
			return
		}
		left -= n
	}
}

// writeChunks writes the name line n times, flushing after each and waiting
// interval between them. It stops early when the request's context ends or a
// write fails.
func writeChunks(w http.ResponseWriter, r *http.Request, nameLine []byte, n int, interval time.Duration) {
	rc := http.NewResponseController(w)
	for i := range n {
		if i > 0 && !wait(r, interval) {
			return
		}
		if _, err := w.Write(nameLine); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// wait blocks for d or until r's context ends, and reports whether the full
// d passed. A zero d returns at once without a timer.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}
