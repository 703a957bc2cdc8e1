package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// opaque hides the connection's syscall.Conn, so Wrap takes the fallback.
type opaque struct{ net.Conn }

// route is one way of wrapping a connection the tests run over.
type route struct {
	name string
	wrap func(net.Conn) *Conn
	// direct: the connection must take the direct route (on Linux).
	direct bool
}

var routes = []route{
	{"direct", Wrap, true},
	{"fallback", func(c net.Conn) *Conn { return Wrap(opaque{c}) }, false},
}

// pair returns a connected loopback pair: the wrapped side and its peer.
func pair(t *testing.T, wrap func(net.Conn) *Conn) (*Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	s := wrap(c)
	t.Cleanup(func() { s.Close(); a.c.Close() })
	return s, a.c.(*net.TCPConn)
}

func TestDirectRouteIsTaken(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			s, _ := pair(t, r.wrap)
			if want := r.direct && directSupported; s.raw.ok != want {
				t.Fatalf("direct route taken = %v, want %v", s.raw.ok, want)
			}
		})
	}
}

func TestWritevDeliversEveryByteInOrder(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than a socket buffer holds
	cases := []struct {
		name string
		bufs [][]byte
	}{
		{"nothing", nil},
		{"empty pieces", [][]byte{{}, nil, {}}},
		{"one piece", [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n")}},
		{"pieces with empty ones between", [][]byte{[]byte("a"), nil, []byte("bc"), {}, []byte("def")}},
		{"more pieces than one call takes", func() [][]byte {
			var bs [][]byte
			for i := 0; i < 3*maxIov+1; i++ {
				bs = append(bs, []byte{byte('a' + i%26)})
			}
			return bs
		}()},
		{"head and a body larger than the socket buffer", [][]byte{[]byte("HTTP/1.1 200 OK\r\n\r\n"), big, []byte("tail")}},
	}
	for _, r := range routes {
		for _, tc := range cases {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) {
				s, peer := pair(t, r.wrap)
				want := bytes.Join(tc.bufs, nil)
				got := make(chan []byte, 1)
				go func() {
					b := make([]byte, len(want))
					_, err := io.ReadFull(peer, b)
					if err != nil {
						b = nil
					}
					got <- b
				}()
				n, err := s.Writev(append([][]byte(nil), tc.bufs...))
				if err != nil || n != int64(len(want)) {
					t.Fatalf("Writev = %d, %v; want %d, nil", n, err, len(want))
				}
				if b := <-got; !bytes.Equal(b, want) {
					t.Fatalf("peer read %d bytes, not the %d written, in order", len(b), len(want))
				}
			})
		}
	}
}

func TestReadSeesDataEndAndReset(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			if _, err := peer.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 16)
			n, err := io.ReadAtLeast(s, b, 5)
			if err != nil || string(b[:n]) != "hello" {
				t.Fatalf("Read = %q, %v; want \"hello\", nil", b[:n], err)
			}
			if n, err := s.Read(b[:0]); n != 0 || err != nil {
				t.Fatalf("Read of nothing = %d, %v; want 0, nil", n, err)
			}
			peer.CloseWrite()
			if n, err := s.Read(b); n != 0 || err != io.EOF {
				t.Fatalf("Read after the peer's close = %d, %v; want 0, io.EOF", n, err)
			}
		})
		t.Run(r.name+"/reset", func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			peer.SetLinger(0)
			peer.Close() // with linger 0: a reset
			_, err := s.Read(make([]byte, 16))
			var op *net.OpError
			if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &op) {
				t.Fatalf("Read after a reset = %v; want a *net.OpError for ECONNRESET", err)
			}
		})
	}
}

func TestDeadlinesAndCloseEndWaits(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name+"/read deadline", func(t *testing.T) {
			s, _ := pair(t, r.wrap)
			s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := s.Read(make([]byte, 16))
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("Read past its deadline = %v; want a timeout", err)
			}
		})
		t.Run(r.name+"/write deadline", func(t *testing.T) {
			s, _ := pair(t, r.wrap) // the peer never reads
			s.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			total := 64 << 20
			n, err := s.Write(make([]byte, total))
			if !errors.Is(err, os.ErrDeadlineExceeded) || n >= total {
				t.Fatalf("Write to a peer that never reads = %d, %v; want fewer than %d bytes and a timeout", n, err, total)
			}
		})
		t.Run(r.name+"/close", func(t *testing.T) {
			s, _ := pair(t, r.wrap)
			done := make(chan error, 1)
			go func() {
				_, err := s.Read(make([]byte, 16))
				done <- err
			}()
			// The read may start before or after the close: either way it ends.
			s.Close()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Read on a closed connection = %v; want net.ErrClosed", err)
			}
		})
	}
}

// A read and a write may run at once on one connection (ferrum's watch reads
// a backend connection while the exchange writes to it); each must see its
// own result. Run under -race, this also fails on state the two share.
func TestReadAndWriteAtOnce(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			const rounds = 200
			payload := bytes.Repeat([]byte("w"), 32<<10)
			echoed := make(chan error, 1)
			go func() { // the peer drains what s writes and sends one byte per round
				b := make([]byte, len(payload))
				for i := 0; i < rounds; i++ {
					if _, err := io.ReadFull(peer, b); err != nil {
						echoed <- err
						return
					}
					if _, err := peer.Write([]byte{byte(i)}); err != nil {
						echoed <- err
						return
					}
				}
				echoed <- nil
			}()
			read := make(chan error, 1)
			go func() {
				b := make([]byte, 1)
				for i := 0; i < rounds; i++ {
					if _, err := io.ReadFull(s, b); err != nil {
						read <- err
						return
					}
					if b[0] != byte(i) {
						read <- errors.New("a byte out of order")
						return
					}
				}
				read <- nil
			}()
			for i := 0; i < rounds; i++ {
				if n, err := s.Write(payload); err != nil || n != len(payload) {
					t.Fatalf("Write %d = %d, %v; want %d, nil", i, n, err, len(payload))
				}
			}
			if err := <-read; err != nil {
				t.Fatalf("reads beside the writes: %v", err)
			}
			if err := <-echoed; err != nil {
				t.Fatalf("peer: %v", err)
			}
		})
	}
}

// echoPeer answers every request of size bytes on peer with the same bytes,
// until the connection ends.
func echoPeer(peer net.Conn, size int) {
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(peer, buf); err != nil {
			return
		}
		if _, err := peer.Write(buf); err != nil {
			return
		}
	}
}

// A write queued by WriteOnRead goes out with the next Read, which gets the
// answer however soon it comes: here the peer answers at once, so an answer
// whose readiness the read missed would leave it waiting until its deadline.
// On the direct route the read does not first try and find nothing.
func TestWriteOnReadGetsEveryAnswer(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			const size, rounds = 100, 200
			go echoPeer(peer, size)
			req := make([]byte, size)
			got := make([]byte, size)
			for i := range rounds {
				req[0], req[size-1] = byte(i), byte(i+1)
				s.SetReadDeadline(time.Now().Add(5 * time.Second))
				s.WriteOnRead([][]byte{req[:40], req[40:]})
				if _, err := io.ReadFull(s, got); err != nil {
					t.Fatalf("exchange %d: reading the answer: %v", i, err)
				}
				if n, err := s.WriteResult(); n != size || err != nil {
					t.Fatalf("exchange %d: WriteResult = %d, %v; want %d, nil", i, n, err, size)
				}
				if !bytes.Equal(got, req) {
					t.Fatalf("exchange %d: answer %q..., want %q...", i, got[:4], req[:4])
				}
			}
			// An empty read costs a system call the queued write exists to
			// save; allow a few for wake-ups that are not the answer.
			if r.direct && directSupported && s.raw.empty > rounds/20 {
				t.Errorf("%d of %d reads found nothing; want the read to wait for the answer", s.raw.empty, rounds)
			}
		})
	}
}

// The queued write is made whole even when the socket has no room for it,
// and its failures and a read that ends before it are reported.
func TestWriteOnReadEdges(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name+"/larger than the socket buffer", func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			big := make([]byte, 16<<20)
			for i := range big {
				big[i] = byte(i % 251)
			}
			go echoPeer(peer, len(big))
			s.SetDeadline(time.Now().Add(20 * time.Second))
			s.WriteOnRead([][]byte{big})
			got := make([]byte, len(big))
			if _, err := io.ReadFull(s, got); err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if n, err := s.WriteResult(); n != int64(len(big)) || err != nil {
				t.Fatalf("WriteResult = %d, %v; want %d, nil", n, err, len(big))
			}
			for i := range big {
				big[i] = byte(i % 251) // the write consumed big's slices, not its bytes
			}
			if !bytes.Equal(got, big) {
				t.Fatal("the answer differs from what was written")
			}
		})
		t.Run(r.name+"/peer gone", func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			peer.SetLinger(0)
			peer.Close() // a reset
			s.SetDeadline(time.Now().Add(5 * time.Second))
			var werr, rerr error
			for range 10 { // the first write after a reset may still be taken
				s.WriteOnRead([][]byte{[]byte("GET / HTTP/1.1\r\n\r\n")})
				_, rerr = s.Read(make([]byte, 16))
				if _, werr = s.WriteResult(); werr != nil {
					break
				}
			}
			if werr == nil || rerr == nil {
				t.Fatalf("writing to and reading from a reset connection: write %v, read %v; want both to fail", werr, rerr)
			}
		})
		t.Run(r.name+"/read deadline already past", func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			s.SetReadDeadline(time.Now().Add(-time.Second))
			s.WriteOnRead([][]byte{[]byte("ping")})
			if _, err := s.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read past its deadline = %v; want a timeout", err)
			}
			n, _ := s.WriteResult()
			peer.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			m, _ := peer.Read(make([]byte, 4))
			if int(n) != m {
				t.Fatalf("WriteResult says %d bytes went out; the peer got %d", n, m)
			}
		})
		t.Run(r.name+"/result without a read", func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			s.WriteOnRead([][]byte{[]byte("ping")})
			if n, err := s.WriteResult(); n != 4 || err != nil {
				t.Fatalf("WriteResult = %d, %v; want 4, nil", n, err)
			}
			got := make([]byte, 4)
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(peer, got); err != nil || string(got) != "ping" {
				t.Fatalf("the peer got %q, %v; want ping", got, err)
			}
		})
	}
}

// TestReadNowNeverWaits: ReadNow takes what has arrived and returns at
// once when nothing has; the fallback never reads.
func TestReadNowNeverWaits(t *testing.T) {
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			s, peer := pair(t, r.wrap)
			direct := r.direct && directSupported
			// A read that waited would end here with a timeout error.
			_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 16)
			if n, err := s.ReadNow(b); n != 0 || err != nil {
				t.Fatalf("ReadNow with nothing sent = %d, %v; want 0, nil", n, err)
			}
			if _, err := peer.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			// One byte by the waiting read: the rest came in the same
			// segment, so it is there now.
			if n, err := s.Read(b[:1]); n != 1 || err != nil {
				t.Fatalf("Read = %d, %v; want 1, nil", n, err)
			}
			n, err := s.ReadNow(b)
			want := "ello"
			if !direct {
				want = ""
			}
			if string(b[:n]) != want || err != nil {
				t.Fatalf("ReadNow after the write = %q, %v; want %q, nil", b[:n], err, want)
			}
			if !direct {
				return
			}
			peer.CloseWrite()
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := s.ReadNow(b)
				if err == io.EOF && n == 0 {
					break
				}
				if n != 0 || err != nil || time.Now().After(deadline) {
					t.Fatalf("ReadNow after the peer's close = %d, %v; want 0, io.EOF", n, err)
				}
				time.Sleep(time.Millisecond) // polling for the FIN, bounded by the deadline
			}
		})
	}
}
