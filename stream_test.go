package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// pattern is an endless deterministic byte stream, so both ends can check
// a transfer without holding it. Its period is a prime number of bytes, so
// it never lines up with buffer sizes and a lost or repeated buffer shows.
type pattern struct{ i int }

const patternPeriod = 65521

var patternBytes = func() []byte {
	b := make([]byte, patternPeriod)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	n := copy(b, patternBytes[p.i:])
	p.i = (p.i + n) % patternPeriod
	return n, nil
}

func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(&pattern{}, n))
	return hex.EncodeToString(h.Sum(nil))
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// TestLargeTransfersStreamInBoundedMemory sends 64 MiB up and 64 MiB down
// through the ferrum binary: both arrive intact, and ferrum's peak resident
// memory stays far below either body, which it could only do by streaming.
func TestLargeTransfersStreamInBoundedMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the proxy's peak memory")
	}
	const size = 64 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			w.Header().Set("X-Sum", hex.EncodeToString(h.Sum(nil)))
			w.Header().Set("X-Bytes", strconv.FormatInt(n, 10))
		case "/down":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.Copy(w, io.LimitReader(&pattern{}, size))
		}
	}))
	t.Cleanup(up.Close)
	p := startFerrum(t, "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nmax_request_body_bytes = 134217728\nmax_response_body_bytes = 134217728\n"+routeTOML("/", up.URL))
	want := patternSum(size)

	resp, err := http.Post(p.url+"/up", "application/octet-stream", io.LimitReader(&pattern{}, size))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != want {
		t.Fatalf("upload: %d, backend got %s bytes with sum %.12s, want %d bytes with %.12s",
			resp.StatusCode, resp.Header.Get("X-Bytes"), resp.Header.Get("X-Sum"), size, want)
	}
	resp, err = http.Get(p.url + "/down")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("download: %d bytes (err %v), sum %.12x, want %d bytes with %.12s", n, err, h.Sum(nil), size, want)
	}

	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := vmHWM.FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmHWM in the proxy's status:\n%s", bytes.TrimSpace(status))
	}
	peak, _ := strconv.Atoi(string(m[1]))
	t.Logf("ferrum's peak RSS after 64 MiB each way: %d KiB", peak)
	if peak > 40<<10 {
		t.Errorf("ferrum's peak RSS was %d KiB for 64 MiB bodies: they were not streamed", peak)
	}
}
