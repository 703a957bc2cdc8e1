//go:build linux

package main

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"ferrum/loadtest/fakebackend"
)

// Slow backend settings.
const (
	slowReadTimeout = time.Second
	slowDelay       = 5 * time.Second // the backend's wait before its headers
	slowRequests    = 8
	// slowMargin is how late after read_timeout a 504 may come.
	slowMargin = 750 * time.Millisecond
	// slowSettle bounds how long after the 504s ferrum and the backend may
	// take to drop the abandoned requests.
	slowSettle = 2 * time.Second
)

// slowMeasure is what slow_backend saw.
type slowMeasure struct {
	// statuses and took are each slow request's status (0: no answer) and
	// time to it.
	statuses []int
	took     []time.Duration
	// fastStatus is a normal request's status after the slow ones.
	fastStatus int
	// settled is whether ferrum's in-flight gauge and the backend's
	// running handlers both went back to 0 within slowSettle.
	settled         bool
	ferrumInflight  float64
	backendInflight int
	alive           bool
}

func judgeSlow(m slowMeasure) verdict {
	j := newJudge("slow_backend")
	var slowest, fastest time.Duration
	n504 := 0
	for i, s := range m.statuses {
		if s == http.StatusGatewayTimeout {
			n504++
		}
		if i == 0 || m.took[i] > slowest {
			slowest = m.took[i]
		}
		if i == 0 || m.took[i] < fastest {
			fastest = m.took[i]
		}
	}
	j.note("read_timeout", slowReadTimeout)
	j.note("got_504", fmt.Sprintf("%d/%d", n504, len(m.statuses)))
	j.note("fastest", fastest.Round(time.Millisecond))
	j.note("slowest", slowest.Round(time.Millisecond))
	j.need(len(m.statuses) > 0, "no slow request was sent")
	j.need(n504 == len(m.statuses), "%d of %d slow requests got 504 (statuses %v)", n504, len(m.statuses), m.statuses)
	j.need(slowest <= slowReadTimeout+slowMargin, "slowest answer took %v, want at most read_timeout + %v", slowest.Round(time.Millisecond), slowMargin)
	j.need(m.fastStatus == http.StatusOK, "a normal request afterwards got %d, want 200", m.fastStatus)
	j.need(m.settled, "%v after the answers: ferrum in flight %v, backend handlers running %d; want 0 and 0",
		slowSettle, m.ferrumInflight, m.backendInflight)
	j.need(m.alive, "ferrum died")
	return j.verdict()
}

func slowBackend(r *run) verdict {
	slow := &inflight{h: fakebackend.Handler(fakebackend.Options{Name: "slow", Delay: slowDelay})}
	bs, err := r.localBackend("slow", slow, nil)
	if err != nil {
		return failed("slow_backend", err)
	}
	bf, err := r.localBackend("fast", nil, nil)
	if err != nil {
		return failed("slow_backend", err)
	}
	c := baseConf("slow_backend: response headers later than upstream.read_timeout")
	c.upstream = []kv{{"read_timeout", slowReadTimeout.String()}}
	// One attempt: a retry would double the time to the 504 and the
	// experiment is about the timeout, not retries.
	c.retry = []kv{{"max_attempts", 1}}
	c.routes = []routeConf{{prefix: "/slow", backends: []string{bs.url}}, {prefix: "/fast", backends: []string{bf.url}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("slow_backend", err)
	}

	client := &http.Client{Timeout: slowDelay + 5*time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	m := slowMeasure{statuses: make([]int, slowRequests), took: make([]time.Duration, slowRequests)}
	var wg sync.WaitGroup
	for i := range slowRequests {
		wg.Go(func() {
			res := get(r.ctx, client, f.base+"/slow/x")
			m.statuses[i], m.took[i] = res.status, res.end.Sub(res.start)
		})
	}
	wg.Wait()
	m.fastStatus = get(r.ctx, client, f.base+"/fast/x").status
	m.settled = pollFor(r.ctx, slowSettle, 50*time.Millisecond, func() bool {
		m.backendInflight = slow.count()
		mm, err := scrape(r.ctx, f.base)
		if err != nil {
			return false
		}
		// The scrape itself is not counted: ferrum's own endpoints are
		// not proxied requests.
		m.ferrumInflight = mm.sum("ferrum_proxy_inflight_requests")
		return m.ferrumInflight == 0 && m.backendInflight == 0
	})
	m.alive = f.Alive()
	return judgeSlow(m)
}
