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

func TestAcceptErrorsAreLoggedAndRetried(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ln := Patient(&flakyListener{fails: 3, conn: c1}, log)
	got, err := ln.Accept()
	if err != nil || got != c1 {
		t.Fatalf("Accept after 3 EMFILE errors = %v, %v; want the connection", got, err)
	}
	if n := strings.Count(logs.String(), "msg=accept_error"); n != 3 {
		t.Fatalf("logged %d accept errors, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Fatalf("accept_error lines do not say why:\n%s", logs.String())
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener = %v, want net.ErrClosed", err)
	}
}
