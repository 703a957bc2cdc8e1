package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ferrum/actors/proxy/headers"
	"ferrum/loadtest/fakebackend"
)

// completeCounter is a backend that counts requests whose body it read to
// the end without error: what a backend would act on.
func completeCounter(t *testing.T) (string, *atomic.Int32) {
	var n atomic.Int32
	url := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil && r.URL.Path != "/health" {
			n.Add(1)
		}
		w.Header().Set("X-Content-Length", r.Header.Get("Content-Length"))
		w.Header().Set("X-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
	})
	return url, &n
}

func TestFraming(t *testing.T) {
	cases := []struct {
		name       string
		request    string
		wantStatus int
		wantCount  int32 // complete requests the backend saw
	}{
		{
			name:       "content-length and chunked: chunked wins, no content-length upstream",
			request:    "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			wantStatus: 200, wantCount: 1,
		},
		{
			name:       "conflicting content-lengths",
			request:    "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
			wantStatus: 400,
		},
		{
			name:       "transfer-encoding other than chunked",
			request:    "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
			wantStatus: 501,
		},
		{
			name:       "invalid chunk size",
			request:    "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
			wantStatus: 400,
		},
		{
			name:       "chunk longer than announced",
			request:    "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
			wantStatus: 400,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up, count := completeCounter(t)
			h := startProxy(t, routeConf("/", up))
			resp, _, conn, br := h.raw(c.request)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.wantStatus)
			}
			if got := count.Load(); got != c.wantCount {
				t.Fatalf("backend acted on %d complete requests, want %d", got, c.wantCount)
			}
			if c.wantStatus != 200 {
				return
			}
			if cl := resp.Header.Get("X-Content-Length"); cl != "" {
				t.Errorf("backend received Content-Length %q alongside chunked", cl)
			}
			if te := resp.Header.Get("X-Transfer-Encoding"); te != "chunked" {
				t.Errorf("backend received framing %q, want chunked", te)
			}
			// The connection must close after a request with both framings.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := br.ReadByte(); !closedByPeer(err) {
				t.Errorf("connection still open after CL+TE request (read err %v)", err)
			}
		})
	}
}

func TestObsFoldNeverReachesBackendFolded(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	resp, _, _, _ := h.raw("GET /x?echo=1 HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n")
	switch resp.StatusCode {
	case 400:
	case 200:
		if got := resp.Header.Get("X-Echo-X-Folded"); strings.ContainsAny(got, "\r\n") {
			t.Fatalf("folded header reached the backend as %q", got)
		}
	default:
		t.Fatalf("obs-fold: status %d, want 400 or a normalized 200", resp.StatusCode)
	}
}

func TestLargeBodiesStreamIntact(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, routeConf("/", a))
	const size = 5 << 20
	payload := strings.Repeat("ferrum-0123456789", size/17+1)[:size]
	sum := sha256.Sum256([]byte(payload))
	req, _ := http.NewRequest(http.MethodPost, h.url+"/up", strings.NewReader(payload))
	resp, _ := do(t, req)
	if resp.Header.Get("X-Request-Bytes") != "5242880" || resp.Header.Get("X-Request-Sha256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("upload arrived as %s bytes sha %s, want 5242880 and the same checksum",
			resp.Header.Get("X-Request-Bytes"), resp.Header.Get("X-Request-Sha256"))
	}
	resp, body := h.get("/down?bytes=5242880")
	if resp.StatusCode != 200 || len(body) != size {
		t.Fatalf("download: %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), size)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	up, count := completeCounter(t)
	h := startProxy(t, "[upstream]\nmax_request_body_bytes = 1000\n"+routeConf("/", up))
	req, _ := http.NewRequest(http.MethodPost, h.url+"/x", strings.NewReader(strings.Repeat("a", 1001)))
	resp, _ := do(t, req)
	if resp.StatusCode != 413 || count.Load() != 0 {
		t.Fatalf("over-limit Content-Length: %d with %d backend requests, want 413 and none", resp.StatusCode, count.Load())
	}
	resp, _, _, _ = h.raw("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3e8\r\n" + strings.Repeat("a", 1000) + "\r\n2\r\nbb\r\n0\r\n\r\n")
	if resp.StatusCode != 413 || count.Load() != 0 {
		t.Fatalf("over-limit chunked body: %d with %d complete backend requests, want 413 and none", resp.StatusCode, count.Load())
	}
}

// TestDeclaredLengthOverLimitNeverReachesABackend: a Content-Length over
// max_request_body_bytes is answered 413 before any backend is contacted,
// even for the head alone.
func TestDeclaredLengthOverLimitNeverReachesABackend(t *testing.T) {
	var heads atomic.Int32
	up := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			heads.Add(1)
		}
	})
	h := startProxy(t, "[health]\ninterval = \"1h\"\n[upstream]\nmax_request_body_bytes = 1000\n"+routeConf("/", up))
	for _, method := range []string{"POST", "PUT"} {
		req := fmt.Sprintf("%s /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n%s", method, strings.Repeat("a", 1001))
		if resp, _, _, _ := h.raw(req); resp.StatusCode != 413 {
			t.Fatalf("%s with Content-Length 1001 over a limit of 1000: %d, want 413", method, resp.StatusCode)
		}
	}
	if resp, _ := h.get("/x"); resp.StatusCode != 200 {
		t.Fatalf("GET after: %d", resp.StatusCode)
	}
	if n := heads.Load(); n != 1 {
		t.Fatalf("the backend saw %d requests, want only the GET's", n)
	}
}

func TestHeadOfALargeResourceIsNotTooLarge(t *testing.T) {
	h := startProxy(t, "[upstream]\nmax_response_body_bytes = 1000\n"+routeConf("/", backend(t, fakebackend.Options{Name: "a", BodyBytes: 5000})))
	req, _ := http.NewRequest(http.MethodHead, h.url+"/x", nil)
	resp, _ := do(t, req)
	if resp.StatusCode != 200 || resp.ContentLength != 5000 {
		t.Fatalf("HEAD of a 5000-byte resource with a 1000-byte limit: %d, length %d; want 200 and 5000", resp.StatusCode, resp.ContentLength)
	}
	if resp, _ := h.get("/x"); resp.StatusCode != 502 {
		t.Fatalf("GET of it: %d, want 502", resp.StatusCode)
	}
}

// TestRequestsNetHTTPRefusesCarryAnIDAndCount: answers net/http writes
// itself, before ferrum's handler runs, still carry X-Request-Id and are
// counted.
func TestRequestsNetHTTPRefusesCarryAnIDAndCount(t *testing.T) {
	h := startProxy(t, "[server]\nmax_header_bytes = 8192\n"+routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	cases := []struct {
		request string
		status  int
		kind    string
	}{
		{"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "bad_request"},
		{"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "bad_request"},
		{"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 20000) + "\r\n\r\n", 431, "request_too_large"},
	}
	for _, c := range cases {
		resp, _, _, _ := h.raw(c.request)
		if resp.StatusCode != c.status {
			t.Fatalf("%q: status %d, want %d", firstLine(c.request), resp.StatusCode, c.status)
		}
		if id := resp.Header.Get("X-Request-Id"); !headers.ValidRequestID(id) {
			t.Errorf("%d from net/http: X-Request-Id %q", c.status, id)
		}
	}
	mfs := h.scrape()
	for _, c := range cases {
		code := fmt.Sprint(c.status)
		method, _, _ := strings.Cut(c.request, " ")
		if v := value(mfs, "ferrum_proxy_requests_total", "route=none", "method="+method, "code="+code); v != 1 {
			t.Errorf("requests_total{route=none,method=%s,code=%s} = %v, want 1", method, code, v)
		}
	}
	if v := value(mfs, "ferrum_proxy_errors_total", "route=none", "kind=bad_request"); v != 2 {
		t.Errorf("errors_total{kind=bad_request} = %v, want 2", v)
	}
	// A normal answer passes through untouched: one X-Request-Id.
	resp, _ := h.get("/x")
	if n := len(resp.Header.Values("X-Request-Id")); n != 1 {
		t.Errorf("a proxied answer carries %d X-Request-Id headers, want 1", n)
	}
}

func TestMethodIndex(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"GET", "GET"},
		{"OPTIONS", "OPTIONS"},
		{"PATCH", "PATCH"},
		{"BREW", "OTHER"}, // not a standard method
		{"GETX", "OTHER"},
		{"get", "OTHER"}, // methods are case-sensitive
		{"", "OTHER"},
	}
	for _, tt := range tests {
		if got := methods[methodIndex([]byte(tt.in))]; got != tt.want {
			t.Errorf("methodIndex(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAmbiguousFramingClosesTheConnection: a request that carried both
// Content-Length and Transfer-Encoding is answered (chunked wins) and then
// its connection is closed; framing that cannot be trusted at all is 400,
// and closes too. (Under net/http, which hid which framing a request had,
// every chunked request closed; ferrum's own parser knows, and a plain
// chunked request keeps its connection.)
func TestAmbiguousFramingClosesTheConnection(t *testing.T) {
	up, _ := completeCounter(t)
	h := startProxy(t, routeConf("/", up))
	cases := []struct {
		name, request string
		status        int
	}{
		{"both, lower case", "POST /x HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200},
		{"length hidden behind a bare LF", "POST /x HTTP/1.1\r\nHost: x\r\nX: y\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
		{"HTTP/1.0 keep-alive with both", "POST /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400},
		// Transfer-Encoding in HTTP/1.0 is refused: the chunk line must
		// never be served as a next request.
		{"HTTP/1.0 keep-alive, chunked, a request in the chunk", "POST /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"ABC /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _, conn, br := h.raw(c.request)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := br.ReadByte(); !closedByPeer(err) {
				t.Errorf("connection still open after the answer (read err %v)", err)
			}
		})
	}
	// Plain HTTP/1.1 requests, with a length or chunked, keep their
	// connection.
	for _, req := range []string{
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	} {
		resp, _, conn, br := h.raw(req)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("%q: %d, close %v; want 200 on a kept connection", firstLine(req), resp.StatusCode, resp.Close)
		}
		io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: next request on the kept connection: %v", firstLine(req), err)
		}
	}
}
