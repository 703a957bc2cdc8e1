package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
)

// A minimal WebSocket (RFC 6455) for tests: handshake, and unfragmented text
// frames shorter than 126 bytes.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func wsWrite(w io.Writer, msg string, mask bool) error {
	if len(msg) > 125 {
		return errors.New("test frames stay short")
	}
	b := []byte{0x81, byte(len(msg))}
	payload := []byte(msg)
	if mask {
		var key [4]byte
		rand.Read(key[:])
		b[1] |= 0x80
		b = append(b, key[:]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(b, payload...))
	return err
}

func wsRead(r io.Reader) (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	n := int(hdr[1] & 0x7f)
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return "", err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return "", err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return string(p), nil
}

// wsEchoBackend answers WebSocket handshakes and echoes each message back.
func wsEchoBackend(t *testing.T) string {
	return handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "websocket only", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		for {
			msg, err := wsRead(brw)
			if err != nil {
				return
			}
			if err := wsWrite(conn, "echo: "+msg, false); err != nil {
				return
			}
		}
	})
}

type wsConn struct {
	net.Conn
	br *bufio.Reader
}

// wsDial opens a WebSocket through the proxy at addr.
func wsDial(t *testing.T, addr, path string) *wsConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key := base64.StdEncoding.EncodeToString([]byte("ferrum-test-key!"))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", path, key)
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("handshake answer %d %v", resp.StatusCode, resp.Header)
	}
	return &wsConn{Conn: c, br: br}
}

func (c *wsConn) roundTrip(t *testing.T, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsWrite(c, msg, true); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	got, err := wsRead(c.br)
	if err != nil || got != "echo: "+msg {
		t.Fatalf("reply to %q = %q, %v", msg, got, err)
	}
}

func TestWebSocketThroughFerrum(t *testing.T) {
	h := startProxy(t, routeConf("/ws", wsEchoBackend(t)))
	c := wsDial(t, h.addr, "/ws/chat")
	for i := 0; i < 3; i++ {
		c.roundTrip(t, fmt.Sprintf("hello %d", i))
	}
	if v := value(h.scrapeNow(), "ferrum_proxy_tunnels_active", "route=/ws"); v != 1 {
		t.Fatalf("tunnels_active = %v with one tunnel open, want 1", v)
	}
	c.Close()
	eventually(t, 5*time.Second, "tunnels_active back to 0", func() bool {
		return value(h.scrapeNow(), "ferrum_proxy_tunnels_active", "route=/ws") == 0
	})
}

func TestWebSocketRefusedUpgradeIsAPlainResponse(t *testing.T) {
	h := startProxy(t, routeConf("/", backendPlain(t)))
	resp, _, _, _ := h.raw("GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("non-101 answer to an upgrade: %d, want the backend's 200", resp.StatusCode)
	}
}

func backendPlain(t *testing.T) string {
	return handlerBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain\n") })
}

func TestWebSocketAcrossReloads(t *testing.T) {
	ws := wsEchoBackend(t)
	other := backendPlain(t)
	head := "[server]\nlisten = \"127.0.0.1:0\"\ngraceful_shutdown_timeout = \"300ms\"\n"
	s, path := startServer(t, head+routeConf("/ws", ws))
	c := wsDial(t, s.Addr(), "/ws/chat")
	c.roundTrip(t, "before")

	// A reload that keeps the backend leaves the tunnel alone.
	write := func(conf string) {
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Reload()
	}
	write(head + routeConf("/ws", ws) + "[route.retry]\nmax_attempts = 3\n" + routeConf("/other", other))
	c.roundTrip(t, "after a reload that keeps the backend")

	// A reload that removes it closes the tunnel after the deadline.
	removed := time.Now() // before the reload starts the grace timer
	write(head + routeConf("/ws", other))
	c.roundTrip(t, "still open during the grace period")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := wsRead(c.br); err == nil {
		t.Fatal("tunnel to a removed backend still delivers messages")
	}
	if el := time.Since(removed); el < 250*time.Millisecond || el > 3*time.Second {
		t.Fatalf("tunnel closed %v after the reload, want about graceful_shutdown_timeout (300ms)", el)
	}
}

func TestShutdownClosesTunnelsAfterTheDeadline(t *testing.T) {
	head := "[server]\nlisten = \"127.0.0.1:0\"\ngraceful_shutdown_timeout = \"300ms\"\n"
	s, _ := startServer(t, head+routeConf("/ws", wsEchoBackend(t)))
	c := wsDial(t, s.Addr(), "/ws/chat")
	c.roundTrip(t, "hi")
	start := time.Now()
	s.StartDrain()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("drain with only a tunnel open: %v, want nil (closing tunnels is expected)", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("drain returned after %v, before the tunnel's grace period", el)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := wsRead(c.br); err == nil {
		t.Fatal("tunnel still open after shutdown")
	}
}

// TestUpgradeWithBodyIsForwardedWhole: curl asks for h2c on plain-http POSTs;
// such a request is not a tunnel, and its body must arrive.
func TestUpgradeWithBodyIsForwardedWhole(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	body := "hello world"
	resp, _, _, _ := h.raw("POST /x?echo=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 11\r\n\r\n" + body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Bytes") != "11" {
		t.Fatalf("POST with Upgrade: %d, backend got %s bytes; want 200 and 11", resp.StatusCode, resp.Header.Get("X-Request-Bytes"))
	}
	if v := resp.Header.Get("X-Echo-Upgrade"); v != "" {
		t.Fatalf("Upgrade %q reached the backend on a request that is not a tunnel", v)
	}
}

// TestWebSocketFrameSentWithTheHandshake: a frame the client sends in the
// same write as its upgrade request sits in net/http's read buffer when the
// connection is taken over; it must reach the backend first.
func TestWebSocketFrameSentWithTheHandshake(t *testing.T) {
	h := startProxy(t, routeConf("/ws", wsEchoBackend(t)))
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req bytes.Buffer
	key := base64.StdEncoding.EncodeToString([]byte("ferrum-test-key!"))
	fmt.Fprintf(&req, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", key)
	if err := wsWrite(&req, "early", true); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if got, err := wsRead(br); err != nil || got != "echo: early" {
		t.Fatalf("reply to the frame sent with the handshake = %q, %v", got, err)
	}
	(&wsConn{Conn: c, br: br}).roundTrip(t, "after")
}
