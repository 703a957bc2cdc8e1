package proxy

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"ferrum/actors/proxy/wire"
)

// bodyConn returns a client connection over loopback TCP whose client side
// has sent sent (whole: on loopback the bytes are in ferrum's socket when
// the write returns) and whose head has been read, with the body of length
// n ready to read.
func bodyConn(t *testing.T, sent string, n int64) *clientConn {
	t.Helper()
	ln := loopbackListener(t)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := newClientConn(&Proxy{}, server)
	t.Cleanup(cc.finish)
	if _, err := io.WriteString(client, sent); err != nil {
		t.Fatal(err)
	}
	// A read that waited for bytes never sent ends here, failing the test.
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cc.rd.ReadHead(8192); err != nil {
		t.Fatalf("reading the head: %v", err)
	}
	cc.r.body.reset(cc, &wire.Request{ContentLength: n})
	return cc
}

// TestBodyFirstReadTakesWhatHasArrived: the first read of a body of known
// length returns the part buffered with the head and all else that has
// arrived, so the upstream write carries it whole; it never waits for more,
// and never reads past the body into the next request.
func TestBodyFirstReadTakesWhatHasArrived(t *testing.T) {
	const head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
	tests := []struct {
		name   string
		length int
		sent   int    // body bytes sent with the head
		after  string // sent after the body
	}{
		{"small body, whole", 1000, 1000, ""},
		{"body over the head buffer, whole", 60000, 60000, ""},
		{"half a body", 20000, 10000, ""},
		{"body and the next request", 20000, 20000, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := bodyConn(t, fmt.Sprintf(head, tt.length)+strings.Repeat("b", tt.sent)+tt.after, int64(tt.length))
			buf := make([]byte, 64<<10)
			n, err := cc.r.body.Read(buf)
			if n != tt.sent {
				t.Fatalf("first read = %d bytes, %v; want the %d sent", n, err, tt.sent)
			}
			var want error // more to come
			if tt.sent == tt.length {
				want = io.EOF
			}
			if err != want {
				t.Fatalf("first read's error = %v, want %v", err, want)
			}
			if tt.after != "" {
				next, err := cc.rd.ReadHead(8192)
				if err != nil || string(next) != tt.after {
					t.Fatalf("after the body the reader holds %q, %v; want the next request %q", next, err, tt.after)
				}
			}
		})
	}
}
