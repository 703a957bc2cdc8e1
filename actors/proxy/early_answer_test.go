package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
)

// TestEarlyAnswersDoNotWaitForTheBody: an answer the proxy gives before
// reading the request body reaches a client that has not sent the body yet,
// and closes the connection, whose next bytes would be that body.
func TestEarlyAnswersDoNotWaitForTheBody(t *testing.T) {
	up := backend(t, fakebackend.Options{Name: "a"})
	sick := backend(t, fakebackend.Options{Name: "sick", HealthStatus: 500})
	h := startProxy(t, "[health]\ninterval = \"50ms\"\nfailure_threshold = 1\n[upstream]\nmax_request_body_bytes = 1000\n"+
		routeConf("/api", up)+routeConf("/sick", sick))
	eventually(t, 5*time.Second, "sick backend never left rotation", func() bool { return !h.inRotation(1, 0) })
	cases := []struct {
		name, head string
		status     int
	}{
		{"declared length over the limit", "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", 413},
		{"no route", "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 404},
		{"no healthy backend", "POST /sick/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 503},
		{"chunked, no route", "POST /nowhere HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 404},
		// The client waits for 100 Continue: it must get the answer
		// instead, never an invitation to send a body nobody reads.
		{"expecting 100, no route", "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", 404},
		{"expecting 100, over the limit", "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// raw gives up after 10s: the answer must come without the body.
			resp, _, _, br := h.raw(c.head)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if !resp.Close {
				t.Errorf("answer before the body lacks Connection: close")
			}
			if _, err := br.ReadByte(); !closedByPeer(err) {
				t.Errorf("after the answer the connection gave %v, want EOF", err)
			}
		})
	}
}

// TestAnswersAfterTheWholeBodyKeepTheConnection: once the body has been read
// to its end, the proxy's own answers leave the connection open.
func TestAnswersAfterTheWholeBodyKeepTheConnection(t *testing.T) {
	bad := backend(t, fakebackend.Options{Name: "bad", Status: 503})
	h := startProxy(t, "[retry]\nmax_attempts = 2\nbackoff = \"1ms\"\n[health]\nmax_ejected_percent = 0\n"+routeConf("/", bad))
	body := strings.Repeat("b", 100)
	req := fmt.Sprintf("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	resp, _, c, br := h.raw(req)
	if resp.StatusCode != 503 || resp.Close {
		t.Fatalf("retried PUT: status %d, close %v; want the backend's 503 on a kept connection", resp.StatusCode, resp.Close)
	}
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("second request on the kept connection: %v", err)
	}
	resp.Body.Close()
}

// TestEarlyAnswerKeepsTheConnectionWhenTheBodyCameAlong: a small body that
// arrived with its head is read and dropped before an early answer, so the
// connection can carry the next request. (A chunked one closes it anyway:
// see TestAmbiguousFramingClosesTheConnection.)
func TestEarlyAnswerKeepsTheConnectionWhenTheBodyCameAlong(t *testing.T) {
	up := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, routeConf("/api", up))
	for _, req := range []string{
		"POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"PUT /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	} {
		resp, _, c, br := h.raw(req)
		if resp.StatusCode != 404 || resp.Close {
			t.Fatalf("%q: status %d, close %v; want 404 on a kept connection", firstLine(req), resp.StatusCode, resp.Close)
		}
		if _, err := io.WriteString(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: next request on the connection: %v", firstLine(req), err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%q: next request got %d, want 200", firstLine(req), resp.StatusCode)
		}
	}
}
