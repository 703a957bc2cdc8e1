//go:build linux

package main

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Drain settings.
const (
	drainDelay   = 2 * time.Second // shutdown_delay
	drainClients = 16
	// drainStopEarly is how long before the delay ends the clients stop
	// starting requests: a request sent just as the listener closes may
	// fail through no fault of ferrum's.
	drainStopEarly = 300 * time.Millisecond
	// drainSignalLag is how long after SIGTERM ferrum may take to notice
	// it; answers begun before that need not carry Connection: close.
	drainSignalLag = 100 * time.Millisecond
	// drainSlowExtra is how long past the delay the one slow request keeps
	// ferrum busy, so that the listener is seen closed while it still runs.
	drainSlowExtra = 2500 * time.Millisecond
)

// drainCounts classifies the load's requests around the SIGTERM.
type drainCounts struct {
	// during is the requests that ended after the signal; failed those of
	// them without a 2xx answer.
	during, failed int
	// judged is the answers begun after the signal lag, notClosing those
	// of them without Connection: close.
	judged, notClosing int
	samples            []string
}

// classifyDrain sorts results relative to the signal at sigAt.
func classifyDrain(results []result, sigAt time.Time) drainCounts {
	var c drainCounts
	for _, r := range results {
		if r.end.Before(sigAt) {
			continue
		}
		c.during++
		if r.failed() {
			c.failed++
			if len(c.samples) < maxSamples {
				if r.status == 0 {
					c.samples = append(c.samples, r.err)
				} else {
					c.samples = append(c.samples, http.StatusText(r.status))
				}
			}
			continue
		}
		if r.start.Before(sigAt.Add(drainSignalLag)) {
			continue
		}
		c.judged++
		if !r.closing {
			c.notClosing++
		}
	}
	return c
}

// drainMeasure is what drain_under_load saw.
type drainMeasure struct {
	counts drainCounts
	// healthDuring is /health's status during the delay.
	healthDuring int
	// refused is whether a new connection was refused while ferrum still
	// ran (after the delay); accepted counts connections accepted after it.
	refused  bool
	accepted int
	// slowStatus is the status of the request in flight across the
	// listener's close.
	slowStatus int
	exited     bool
	exitCode   int
	exit       string
}

func judgeDrain(m drainMeasure) verdict {
	j := newJudge("drain_under_load")
	j.note("during_delay", m.counts.during)
	j.note("failed", m.counts.failed)
	j.note("without_close", m.counts.notClosing)
	j.note("health", m.healthDuring)
	j.note("refused", m.refused)
	j.note("exit", m.exitCode)
	j.need(m.exited && m.exitCode == 0, "ferrum did not exit 0: %s", m.exit)
	j.need(m.counts.during > 0, "no request was served during the delay")
	j.need(m.counts.failed == 0, "%d requests failed during the delay (%v)", m.counts.failed, m.counts.samples)
	j.need(m.counts.judged > 0, "no answer begun during the delay to check for Connection: close")
	j.need(m.counts.notClosing == 0, "%d of %d answers during the delay lacked Connection: close", m.counts.notClosing, m.counts.judged)
	j.need(m.refused, "no new connection was refused after the delay while ferrum still ran (%d accepted)", m.accepted)
	j.need(m.slowStatus == http.StatusOK, "the request in flight across the listener's close got %d, want 200", m.slowStatus)
	return j.verdict()
}

func drainUnderLoad(r *run) verdict {
	b, err := r.localBackend("drain", nil, nil)
	if err != nil {
		return failed("drain_under_load", err)
	}
	c := baseConf("drain_under_load: SIGTERM with shutdown_delay under keep-alive load")
	c.server = []kv{{"shutdown_delay", drainDelay.String()}, {"graceful_shutdown_timeout", "10s"}}
	c.routes = []routeConf{{prefix: "/k", backends: []string{b.url}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("drain_under_load", err)
	}
	load := startLoad(r.ctx, loadOpts{url: f.base + "/k/x", conns: drainClients, timeout: 5 * time.Second, keep: true})
	sleep(r.ctx, r.dur(time.Second, 500*time.Millisecond))

	var m drainMeasure
	slow := make(chan int, 1)
	go func() {
		client := &http.Client{Timeout: 15 * time.Second}
		slow <- get(r.ctx, client, f.base+"/k/x?delay="+(drainDelay+drainSlowExtra).String()).status
	}()
	sleep(r.ctx, 200*time.Millisecond)
	sigAt := time.Now()
	if err := f.Signal(syscall.SIGTERM); err != nil {
		load.stop()
		return failed("drain_under_load", err)
	}
	load.setStopAt(sigAt.Add(drainDelay - drainStopEarly))
	sleep(r.ctx, 500*time.Millisecond)
	m.healthDuring, _, _ = getText(r.ctx, f.base+"/health")

	sleep(r.ctx, time.Until(sigAt.Add(drainDelay+300*time.Millisecond)))
	pollFor(r.ctx, 2*time.Second, 100*time.Millisecond, func() bool {
		if !f.Alive() {
			return true
		}
		conn, err := net.DialTimeout("tcp", f.addr, 500*time.Millisecond)
		if err == nil {
			m.accepted++
			conn.Close()
			return false
		}
		m.refused = errors.Is(err, syscall.ECONNREFUSED) && f.Alive()
		return m.refused
	})
	select {
	case m.slowStatus = <-slow:
	case <-r.ctx.Done():
	}
	m.exited = f.WaitExit(15 * time.Second)
	m.exitCode, m.exit = exitCode(f.Process), f.Status()
	load.stop()
	m.counts = classifyDrain(load.results(), sigAt)
	return judgeDrain(m)
}
