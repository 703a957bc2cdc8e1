//go:build linux

package main

import (
	"net/http"
	"sync"
	"time"

	"ferrum/loadtest/procfs"
)

// Upstream CLOSE_WAIT settings.
const (
	cwBurst       = 200
	cwBackendIdle = time.Second // the backend's keep-alive timeout
	// cwBound is how soon after the backend closed its idle connections
	// ferrum must have let go of its ends.
	cwBound = 5 * time.Second
	// cwMinPooled is the fewest upstream connections the burst must leave
	// pooled for the experiment to mean anything.
	cwMinPooled = 10
)

// cwMeasure is what upstream_close_wait saw.
type cwMeasure struct {
	burstOK int
	// pooled is ferrum's established connections to the backend after the
	// burst.
	pooled int
	// backendClosed is whether the backend closed all its connections.
	backendClosed bool
	// peak is the most CLOSE_WAIT sockets seen, left those still there at
	// the bound, cleared whether they reached 0 and clearedAfter when
	// (after the backend closed).
	peak, left   int
	cleared      bool
	clearedAfter time.Duration
	procErr      string
	alive        bool
}

func judgeCloseWait(m cwMeasure) verdict {
	j := newJudge("upstream_close_wait")
	j.note("burst_ok", m.burstOK)
	j.note("pooled", m.pooled)
	j.note("close_wait_peak", m.peak)
	j.note("close_wait_left", m.left)
	if m.cleared {
		j.note("cleared_after", m.clearedAfter.Round(100*time.Millisecond))
	}
	j.need(m.procErr == "", "reading ferrum's sockets: %s", m.procErr)
	j.need(m.pooled >= cwMinPooled, "the burst left %d upstream connections pooled, want at least %d", m.pooled, cwMinPooled)
	j.need(m.backendClosed, "the backend did not close its idle connections")
	j.need(m.cleared, "%d sockets still in CLOSE_WAIT %v after the backend closed them", m.left, cwBound)
	j.need(m.alive, "ferrum died")
	return j.verdict()
}

func upstreamCloseWait(r *run) verdict {
	b, err := r.localBackend("idle1s", nil, func(s *http.Server) { s.IdleTimeout = cwBackendIdle })
	if err != nil {
		return failed("upstream_close_wait", err)
	}
	c := baseConf("upstream_close_wait: the backend closes ferrum's idle upstream connections")
	// Probes far apart, so the sockets seen are the traffic's.
	c.health = []kv{{"interval", "1m"}}
	c.routes = []routeConf{{prefix: "/k", backends: []string{b.url}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("upstream_close_wait", err)
	}

	var m cwMeasure
	tr := &http.Transport{MaxIdleConnsPerHost: cwBurst, MaxConnsPerHost: cwBurst}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for range cwBurst {
		wg.Go(func() {
			if get(r.ctx, client, f.base+"/k/x?delay=300ms").status == http.StatusOK {
				mu.Lock()
				m.burstOK++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	tr.CloseIdleConnections()

	closeWait := func() int {
		socks, err := processSockets(f.Pid())
		if err != nil {
			m.procErr = err.Error()
			return -1
		}
		m.pooled = max(m.pooled, countState(socks, b.port, procfs.TCPEstablished))
		return countState(socks, b.port, procfs.TCPCloseWait)
	}
	closeWait()
	m.backendClosed = pollFor(r.ctx, cwBackendIdle+3*time.Second, 50*time.Millisecond, func() bool {
		open, _ := b.conns.counts()
		return open == 0
	})
	closedAt := time.Now()
	r.logf("burst of %d: %d pooled; backend closed them: %v", cwBurst, m.pooled, m.backendClosed)
	m.cleared = pollFor(r.ctx, cwBound, 200*time.Millisecond, func() bool {
		n := closeWait()
		m.peak, m.left = max(m.peak, n), n
		return n == 0
	})
	m.clearedAfter = time.Since(closedAt)
	m.alive = f.Alive()
	return judgeCloseWait(m)
}
