package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
)

// TestSlowUploadsDoNotStarveOthers: 100 clients trickle their POST bodies a
// byte at a time; while every one of them is open at the backend, 50 GETs
// and 20 POSTs from other clients are all served, promptly and intact. Then
// the slow uploads finish and are answered too.
func TestSlowUploadsDoNotStarveOthers(t *testing.T) {
	noLeaks(t)
	const (
		uploads = 100
		bodyLen = 200 // bytes per slow upload; one every 50 ms
		gets    = 50
		posts   = 20
		limit   = 3 * time.Second // per fast request
	)
	var open atomic.Int32 // slow uploads the backend is reading now
	fb := fakebackend.Handler(fakebackend.Options{Name: "a"})
	up := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			open.Add(1)
			defer open.Add(-1)
		}
		fb.ServeHTTP(w, r)
	})
	h := startProxy(t, "[server]\nclient_body_timeout = \"10s\"\n[retry]\ntotal_timeout = \"60s\"\n"+routeConf("/", up))
	h.waitFirstProbes()

	conns := make([]net.Conn, 0, uploads)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sent := make([]int, uploads) // body bytes written per upload; the trickler owns it while it runs
	for i := range uploads {
		c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial slow upload %d: %v", i, err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nx", bodyLen); err != nil {
			t.Fatalf("slow upload %d: %v", i, err)
		}
		sent[i] = 1
	}
	eventually(t, 10*time.Second, "the slow uploads never all reached the backend", func() bool {
		return open.Load() == uploads
	})

	stop := make(chan struct{})
	trickled := make(chan struct{})
	var stopOnce sync.Once
	stopTrickle := func() {
		stopOnce.Do(func() { close(stop) })
		<-trickled
	}
	go func() {
		defer close(trickled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i, c := range conns {
				if sent[i] < bodyLen-1 { // the last byte waits for the end of the test
					if _, err := c.Write([]byte{'x'}); err == nil {
						sent[i]++
					}
				}
			}
		}
	}()
	defer stopTrickle()

	type result struct {
		method string
		took   time.Duration
		err    error
	}
	results := make(chan result, gets+posts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	fire := func(method string, i int) {
		defer wg.Done()
		var body io.Reader
		payload := ""
		if method == http.MethodPost {
			payload = strings.Repeat(strconv.Itoa(i), 1000+i)
			body = strings.NewReader(payload)
		}
		start := time.Now()
		err := func() error {
			req, err := http.NewRequestWithContext(ctx, method, h.url+"/fast", body)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("X-Request-Sha256"); method == http.MethodPost && got != sha256Hex(payload) {
				return fmt.Errorf("body arrived as %s bytes, not intact", resp.Header.Get("X-Request-Bytes"))
			}
			return nil
		}()
		results <- result{method, time.Since(start), err}
	}
	began := time.Now()
	for i := range gets {
		wg.Add(1)
		go fire(http.MethodGet, i)
	}
	for i := range posts {
		wg.Add(1)
		go fire(http.MethodPost, i)
	}
	wg.Wait()
	close(results)
	all := time.Since(began)

	lat := map[string][]time.Duration{}
	for r := range results {
		if r.err != nil {
			t.Errorf("%s beside %d slow uploads: %v after %v", r.method, uploads, r.err, r.took)
		} else if r.took > limit {
			t.Errorf("%s beside %d slow uploads took %v, want under %v", r.method, uploads, r.took, limit)
		}
		lat[r.method] = append(lat[r.method], r.took)
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		d := lat[m]
		slices.Sort(d)
		if len(d) == 0 {
			continue
		}
		t.Logf("%d %ss beside %d slow uploads: min %v, median %v, p95 %v, max %v",
			len(d), m, uploads, d[0].Round(time.Microsecond), d[len(d)/2].Round(time.Microsecond),
			d[len(d)*95/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
	}
	t.Logf("all %d fast requests done in %v", gets+posts, all.Round(time.Millisecond))
	if n := open.Load(); n != uploads {
		t.Errorf("%d slow uploads open at the backend after the fast requests, want all %d still streaming", n, uploads)
	}

	stopTrickle()
	for i, c := range conns {
		if _, err := c.Write([]byte(strings.Repeat("x", bodyLen-sent[i]))); err != nil {
			t.Fatalf("finish slow upload %d: %v", i, err)
		}
	}
	for i, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow upload %d: no answer: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Request-Bytes") != strconv.Itoa(bodyLen) {
			t.Fatalf("slow upload %d: %d with %s bytes received, want 200 with %d", i,
				resp.StatusCode, resp.Header.Get("X-Request-Bytes"), bodyLen)
		}
	}
	eventually(t, 5*time.Second, "slow uploads still open at the backend", func() bool {
		return open.Load() == 0
	})
}
