//go:build linux

package main

import (
	"time"
)

// Backend kill settings. Health checks are fast so the experiment is
// short; retries have no budget limit because the experiment asks whether
// retries cover a dead backend, not how the budget rations them.
const (
	killClients        = 32
	killProbeEvery     = 500 * time.Millisecond
	killEjection       = 2 * time.Second
	killRecoveryThresh = 2
	// killRecoveryBound is how soon after the restart the backend must be
	// healthy and answering again: its probes at killProbeEvery, plus a
	// margin for a loaded machine.
	killRecoveryBound = killRecoveryThresh*killProbeEvery + 3*time.Second
)

// killMeasure is what backend_kill saw.
type killMeasure struct {
	load  tally
	alive bool
	exit  string
	// seenOut is whether /health/backends showed the killed backend out
	// of rotation while it was down; outAfter is how soon, outState as what.
	seenOut  bool
	outAfter time.Duration
	outState string
	// restarted is whether the backend came back on its port; recovered
	// whether ferrum then showed it healthy and sent it traffic, and
	// recoveredAfter how long after the restart.
	restarted      bool
	recovered      bool
	recoveredAfter time.Duration
	down           time.Duration
}

// killErrorBound is how many client-visible failures a kill may cost:
// the requests in flight on the killed backend are retried, so a handful
// at most, or one in a thousand on a long run.
func killErrorBound(requests int64) int64 { return max(5, requests/1000) }

func judgeKill(m killMeasure) verdict {
	j := newJudge("backend_kill")
	j.note("requests", m.load.requests)
	j.note("errors", m.load.failures())
	j.note("down", m.down.Round(100*time.Millisecond))
	if m.seenOut {
		j.note("out_after", m.outAfter.Round(10*time.Millisecond))
	}
	if m.recovered {
		j.note("recovered_after", m.recoveredAfter.Round(10*time.Millisecond))
	}
	j.need(m.alive, "ferrum died: %s", m.exit)
	j.need(m.load.requests > 0, "no request completed")
	bound := killErrorBound(m.load.requests)
	j.need(m.load.failures() <= bound, "%d client-visible failures, want at most %d (%v)", m.load.failures(), bound, m.load.samples)
	j.need(m.seenOut, "the killed backend never showed unhealthy or ejected in /health/backends while down")
	j.need(m.restarted, "the backend could not be restarted on its port")
	if m.restarted {
		j.need(m.recovered && m.recoveredAfter <= killRecoveryBound,
			"the backend was not healthy and taking traffic within %v of its restart", killRecoveryBound)
	}
	return j.verdict()
}

func backendKill(r *run) verdict {
	b1, err := r.startBackendChild("k1", "127.0.0.1:0")
	if err != nil {
		return failed("backend_kill", err)
	}
	b2, err := r.startBackendChild("k2", "127.0.0.1:0")
	if err != nil {
		return failed("backend_kill", err)
	}
	victim := backendURL(b2.addr)
	c := baseConf("backend_kill: one of two backends killed with -9 and restarted")
	c.upstream = []kv{{"connect_timeout", "500ms"}}
	c.health = []kv{{"interval", killProbeEvery.String()}, {"timeout", "300ms"}, {"failure_threshold", 2},
		{"recovery_threshold", killRecoveryThresh}, {"ejection_duration", killEjection.String()}, {"max_ejection_duration", "10s"}}
	c.retry = []kv{{"max_attempts", 2}, {"backoff", "10ms"}, {"budget_percent", 100}, {"min_retry_concurrency", killClients}}
	c.routes = []routeConf{{prefix: "/k", backends: []string{backendURL(b1.addr), victim}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("backend_kill", err)
	}
	load, err := r.startLoader(f.base+"/k/x", killClients)
	if err != nil {
		return failed("backend_kill", err)
	}
	sleep(r.ctx, r.dur(2*time.Second, time.Second))

	m := killMeasure{down: r.dur(5*time.Second, 3*time.Second)}
	b2.KillGroup()
	killedAt := time.Now()
	r.logf("killed backend %s (-9); down for %v", b2.addr, m.down)
	pollFor(r.ctx, m.down, 100*time.Millisecond, func() bool {
		if !m.seenOut {
			if h, err := backendsHealth(r.ctx, f.base); err == nil {
				if b, ok := h.backend(victim); ok && b.State != "healthy" {
					m.seenOut, m.outAfter, m.outState = true, time.Since(killedAt), b.State
				}
			}
		}
		return false // watch for the whole downtime
	})

	if _, err := r.restartBackendChild("k2", b2.addr); err != nil {
		r.logf("restart: %v", err)
	} else {
		m.restarted = true
		restartedAt := time.Now()
		served := func() float64 {
			mm, err := scrape(r.ctx, f.base)
			if err != nil {
				return -1
			}
			return mm.sum("ferrum_proxy_backend_requests_total", "backend", victim, "outcome", "success")
		}
		before := served()
		m.recovered = pollFor(r.ctx, killRecoveryBound+5*time.Second, 200*time.Millisecond, func() bool {
			h, err := backendsHealth(r.ctx, f.base)
			if err != nil {
				return false
			}
			b, ok := h.backend(victim)
			return ok && b.State == "healthy" && served() > before
		})
		m.recoveredAfter = time.Since(restartedAt)
	}
	m.load = load.stop()
	m.alive = f.Alive()
	m.exit = f.Status()
	return judgeKill(m)
}
