package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"ferrum/actors"
	"ferrum/messages"
)

var (
	descHealthy = prometheus.NewDesc("ferrum_proxy_backend_healthy",
		"1 when the backend is in rotation, 0 when it is out.", []string{"route", "backend"}, nil)
	descEjections = prometheus.NewDesc("ferrum_proxy_backend_ejections_total",
		"Passive ejections of the backend.", []string{"route", "backend"}, nil)
	descTransitions = prometheus.NewDesc("ferrum_proxy_health_transitions_total",
		"Health state changes of the backend, by the state entered.", []string{"route", "backend", "to"}, nil)
	descFailures = prometheus.NewDesc("ferrum_proxy_backend_failures_total",
		"Failed probes (active) and failed live-traffic attempts (passive).", []string{"route", "backend", "source"}, nil)
	descOutcomesDropped = prometheus.NewDesc("ferrum_proxy_outcomes_dropped_total",
		"Live-traffic outcomes a busy backend actor's mailbox had no room for.", []string{"backend"}, nil)
)

// healthCollector reports the series the backend actors keep in their
// snapshots, read at scrape time from the route table in force; passive
// failures come from the request path's attempt counters.
type healthCollector struct{ m *Metrics }

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealthy
	ch <- descEjections
	ch <- descTransitions
	ch <- descFailures
	ch <- descOutcomesDropped
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.m.table.Load()
	if t == nil {
		return
	}
	// A backend actor is shared by the routes that list it; its drops are
	// counted once, summed per URL over actors with different settings.
	dropped := map[string]uint64{}
	seen := map[*actors.Backend]bool{}
	for _, rt := range t.routes {
		prefix := rt.conf.PathPrefix
		for _, b := range rt.backends {
			if !seen[b.actor] {
				seen[b.actor] = true
				dropped[b.url] += b.actor.Dropped()
			}
			s := b.actor.Snapshot()
			healthy := 0.0
			if s.InRotation() {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, prefix, b.url)
			ch <- prometheus.MustNewConstMetric(descEjections, prometheus.CounterValue, float64(s.Ejections), prefix, b.url)
			for _, to := range []messages.State{messages.Healthy, messages.Unhealthy, messages.Ejected} {
				ch <- prometheus.MustNewConstMetric(descTransitions, prometheus.CounterValue, float64(s.TransitionsTo[to]), prefix, b.url, to.String())
			}
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(s.ActiveFailures), prefix, b.url, "active")
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, b.metrics.failures(), prefix, b.url, "passive")
		}
	}
	for url, n := range dropped {
		ch <- prometheus.MustNewConstMetric(descOutcomesDropped, prometheus.CounterValue, float64(n), url)
	}
}
