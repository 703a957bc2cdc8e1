package proxy

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
)

// flakyListener fails Accept with EMFILE a few times, then hands out a
// connection, then reports itself closed.
type flakyListener struct {
	net.Listener
	fails int
	conn  net.Conn
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	if l.conn != nil {
		c := l.conn
		l.conn = nil
		return c, nil
	}
	return nil, net.ErrClosed
}

func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }

// TestAcceptErrorsAreLoggedAndRetried: accept errors never end the accept
// loop; running out of file descriptors is one rate-limited warning that
// says what ran out, not a line per failure.
func TestAcceptErrorsAreLoggedAndRetried(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ln := &patientListener{Listener: &flakyListener{fails: 3, conn: c1}, log: log, shortage: &shortageLog{}}
	got, err := ln.Accept()
	if err != nil || got != c1 {
		t.Fatalf("Accept after 3 EMFILE errors = %v, %v; want the connection", got, err)
	}
	if n := strings.Count(logs.String(), "msg=local_resources"); n != 1 {
		t.Fatalf("logged %d local_resources warnings for 3 failures, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "file descriptors") {
		t.Fatalf("the warning does not say what ran out:\n%s", logs.String())
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener = %v, want net.ErrClosed", err)
	}
}
