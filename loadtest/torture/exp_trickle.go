//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"ferrum/loadtest/fakebackend"
)

// Trickled body settings: ferrum's defaults are a 240 B/s minimum after a
// 5 s grace period; the body comes at 1 B/s.
const (
	trickleLength = 100000
	trickleGrace  = 5 * time.Second
	// trickleBound is how soon after the request head ferrum must answer
	// 408 or close: the grace period and a couple of seconds.
	trickleBound = trickleGrace + 3*time.Second
	// trickleBackendClose bounds how long after the client's answer the
	// backend's connection for the request may stay open.
	trickleBackendClose = 3 * time.Second
)

// trickleSink is the backend of trickled_body: it reads request bodies on
// /trickle to their end and remembers how that went. Safe for concurrent
// use; its handler goroutines write under mu.
type trickleSink struct {
	next     http.Handler
	mu       sync.Mutex
	seen     bool   // a /trickle request arrived
	remote   string // the connection it came on
	bytes    int64  // body bytes read
	complete bool   // the whole body arrived
}

func (s *trickleSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/trickle") {
		s.next.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	s.seen, s.remote = true, r.RemoteAddr
	s.mu.Unlock()
	n, err := io.Copy(io.Discard, countingReader{r: r.Body, s: s})
	s.mu.Lock()
	s.complete = err == nil && n == r.ContentLength
	s.mu.Unlock()
	if err != nil {
		return
	}
	w.WriteHeader(http.StatusOK)
}

// countingReader adds what it reads to its sink's bytes as it goes, so the
// count is right while the body is still arriving.
type countingReader struct {
	r io.Reader
	s *trickleSink
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.mu.Lock()
	c.s.bytes += int64(n)
	c.s.mu.Unlock()
	return n, err
}

func (s *trickleSink) state() (seen bool, remote string, bytes int64, complete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.remote, s.bytes, s.complete
}

// trickleMeasure is what trickled_body saw.
type trickleMeasure struct {
	// answered is whether ferrum answered or closed; status is the answer
	// (0: closed without one), after how long after the head.
	answered bool
	status   int
	after    time.Duration
	sent     int // body bytes sent
	// The backend's side: whether the request reached it, how much body,
	// whether all of it, and whether its connection was closed in time.
	backendSaw, backendComplete bool
	backendBytes                int64
	backendClosed               bool
	alive                       bool
}

func judgeTrickle(m trickleMeasure) verdict {
	j := newJudge("trickled_body")
	j.note("body_sent", m.sent)
	if m.answered {
		j.note("answer", m.status)
		j.note("after", m.after.Round(100*time.Millisecond))
	} else {
		j.note("answer", "none")
	}
	j.note("backend_saw", m.backendSaw)
	j.note("backend_bytes", m.backendBytes)
	j.need(m.answered, "no 408 and no close %v after the head", m.after.Round(time.Second))
	if m.answered {
		j.need(m.status == http.StatusRequestTimeout || m.status == 0, "answered %d, want 408 or a close", m.status)
		j.need(m.after <= trickleBound, "answered after %v, want within %v", m.after.Round(100*time.Millisecond), trickleBound)
	}
	j.need(!m.backendComplete, "the backend got the complete request")
	if m.backendSaw {
		j.need(m.backendClosed, "the backend's connection for the request was still open %v after the client's answer", trickleBackendClose)
	}
	j.need(m.alive, "ferrum died")
	return j.verdict()
}

func trickledBody(r *run) verdict {
	sink := &trickleSink{next: fakebackend.Handler(fakebackend.Options{Name: "sink"})}
	b, err := r.localBackend("sink", sink, nil)
	if err != nil {
		return failed("trickled_body", err)
	}
	c := baseConf("trickled_body: a body at 1 byte a second, default client_body_min_rate")
	c.routes = []routeConf{{prefix: "/trickle", backends: []string{b.url}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("trickled_body", err)
	}
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		return failed("trickled_body", err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /trickle HTTP/1.1\r\nHost: torture\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", trickleLength)
	if _, err := io.WriteString(conn, head); err != nil {
		return failed("trickled_body", err)
	}
	start := time.Now()
	type answer struct {
		status int
		at     time.Time
	}
	answers := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answers <- answer{at: time.Now()} // closed (or the give-up below)
			return
		}
		resp.Body.Close()
		answers <- answer{status: resp.StatusCode, at: time.Now()}
	}()

	var m trickleMeasure
	giveUp := time.NewTimer(r.dur(trickleBound+4*time.Second, trickleBound+2*time.Second))
	defer giveUp.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var answeredAt time.Time
wait:
	for {
		select {
		case a := <-answers:
			m.answered, m.status, m.after = true, a.status, a.at.Sub(start)
			answeredAt = a.at
			break wait
		case <-tick.C:
			if _, err := conn.Write([]byte{'x'}); err == nil {
				m.sent++
			}
		case <-giveUp.C:
			m.after = time.Since(start)
			break wait
		case <-r.ctx.Done():
			m.after = time.Since(start)
			break wait
		}
	}
	r.logf("after %v: answered %v (status %d), %d body bytes sent", m.after.Round(100*time.Millisecond), m.answered, m.status, m.sent)
	if !m.answered {
		answeredAt = time.Now()
	}
	var remote string
	m.backendSaw, remote, _, _ = sink.state()
	if m.backendSaw {
		m.backendClosed = pollFor(r.ctx, time.Until(answeredAt.Add(trickleBackendClose)), 50*time.Millisecond, func() bool {
			_, closed := b.conns.closedTime(remote)
			return closed
		})
	}
	_, _, m.backendBytes, m.backendComplete = sink.state()
	m.alive = f.Alive()
	return judgeTrickle(m)
}
