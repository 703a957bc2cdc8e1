package logsink

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"testing/synctest"
)

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestSlowOutputNeverBlocksWriters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &blockingWriter{release: make(chan struct{})}
		s := New(w, 4)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		// The actor takes one line and blocks on the writer; four more fill
		// the mailbox; the rest are dropped, and no Write waits.
		for i := 0; i < 10; i++ {
			s.Write([]byte{byte('0' + i), '\n'})
			synctest.Wait()
		}
		if got := s.Dropped(); got != 5 {
			t.Fatalf("dropped %d, want 5", got)
		}
		close(w.release)
		cancel()
		<-done
		if got := w.buf.String(); got != "0\n1\n2\n3\n4\n" {
			t.Fatalf("written %q, want the first five lines in order", got)
		}
	})
}

func TestWriteCopiesTheLine(t *testing.T) {
	s := New(&bytes.Buffer{}, 1)
	line := []byte("abc")
	s.Write(line)
	line[0] = 'x'
	if got := string(<-s.lines); got != "abc" {
		t.Fatalf("queued %q, want the line as written", got)
	}
}
