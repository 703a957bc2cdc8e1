package proxy

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"ferrum/messages"
)

// The four families every request writes (requests_total, the two
// durations and backend_requests_total) live in ferrum's own counters, laid
// out in one block per route and per route-backend pair, made on first
// use so that idle routes cost nothing, and are read at
// scrape time by hotCollector. With Prometheus children a request touched
// some fifteen scattered cache lines of its route's series; at hundreds of
// routes each of those was a miss, and the metrics became the largest part
// of what a route costs (docs/benchmarking.md, "Many routes").

// durationBuckets resolve from 100 µs to 30 s.
var durationBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// histogram counts observations per bucket of durationBuckets, plus one
// bucket past the highest bound. Buckets are kept apart, not cumulative,
// and the count is their sum, so a scrape that races a request still sees
// a well-formed histogram.
type histogram struct {
	sumBits atomic.Uint64
	counts  [len(durationBuckets) + 1]atomic.Uint64
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(durationBuckets) && v > durationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// metric is the histogram as a Prometheus sample.
func (h *histogram) metric(desc *prometheus.Desc, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(durationBuckets))
	var n uint64
	for i, bound := range durationBuckets {
		n += h.counts[i].Load()
		buckets[bound] = n
	}
	n += h.counts[len(durationBuckets)].Load()
	return prometheus.MustNewConstHistogram(desc, n, math.Float64frombits(h.sumBits.Load()), buckets, labels...)
}

// routeCounts are a route's requests_total and request_duration_seconds.
type routeCounts struct {
	duration histogram
	codes    [len(methods)][len(commonCodes)]atomic.Uint64
	rare     sync.Map // rareCode to *atomic.Uint64: codes outside commonCodes
}

// rareCode keys a requests_total count for a code outside commonCodes.
type rareCode struct{ method, code int }

// made returns the route's counters, making them on first use.
func (rm *routeMetrics) made() *routeCounts {
	if c := rm.counts.Load(); c != nil {
		return c
	}
	rm.counts.CompareAndSwap(nil, new(routeCounts))
	return rm.counts.Load()
}

// request counts one finished request of method that got code.
func (c *routeCounts) request(method, code int, seconds float64) {
	if code >= 0 && code < len(codeSlot) && codeSlot[code] >= 0 {
		c.codes[method][codeSlot[code]].Add(1)
	} else {
		key := rareCode{method, code}
		n, ok := c.rare.Load(key)
		if !ok {
			n, _ = c.rare.LoadOrStore(key, new(atomic.Uint64))
		}
		n.(*atomic.Uint64).Add(1)
	}
	c.duration.observe(seconds)
}

// pairCounts are a route-backend pair's backend_requests_total and
// upstream_duration_seconds.
type pairCounts struct {
	outcomes [3]atomic.Uint64 // by messages.Class
	duration histogram
}

// made returns the pair's counters, making them on first use.
func (bm *backendMetrics) made() *pairCounts {
	if c := bm.counts.Load(); c != nil {
		return c
	}
	bm.counts.CompareAndSwap(nil, new(pairCounts))
	return bm.counts.Load()
}

// failures reads the pair's failed attempts.
func (bm *backendMetrics) failures() float64 {
	if c := bm.counts.Load(); c != nil {
		return float64(c.outcomes[messages.Failure].Load())
	}
	return 0
}

var (
	descRequests = prometheus.NewDesc("ferrum_proxy_requests_total",
		"Client requests, counted once however many attempts they took.", []string{"route", "method", "code"}, nil)
	descRequestDuration = prometheus.NewDesc("ferrum_proxy_request_duration_seconds",
		"Time from a client request's arrival to the end of its response.", []string{"route"}, nil)
	descUpstreamDuration = prometheus.NewDesc("ferrum_proxy_upstream_duration_seconds",
		"Duration of each attempt against a backend.", []string{"route", "backend"}, nil)
	descBackendRequests = prometheus.NewDesc("ferrum_proxy_backend_requests_total",
		"Attempts against a backend by outcome.", []string{"route", "backend", "outcome"}, nil)
)

// hotStore holds the routes' and pairs' counters by name, so that a reload
// that keeps a route (or a pair) keeps its counts, and Forget can drop
// those of routes and pairs that left the config.
type hotStore struct {
	mu     sync.Mutex
	routes map[string]*routeMetrics
}

// hotCollector reports the hot families of every used route and its pairs.
type hotCollector struct{ m *Metrics }

func (c *hotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descRequestDuration
	ch <- descUpstreamDuration
	ch <- descBackendRequests
}

func (c *hotCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.m.hot
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, rm := range s.routes {
		if !rm.used.Load() {
			continue
		}
		rc := rm.made()
		ch <- rc.duration.metric(descRequestDuration, name)
		for mi := range rc.codes {
			for ci := range rc.codes[mi] {
				if n := rc.codes[mi][ci].Load(); n > 0 {
					ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), name, methods[mi], itoa3(commonCodes[ci]))
				}
			}
		}
		rc.rare.Range(func(k, v any) bool {
			key := k.(rareCode)
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), name, methods[key.method], itoa3(key.code))
			return true
		})
		for _, bm := range rm.pairs {
			pc := bm.made()
			ch <- pc.duration.metric(descUpstreamDuration, name, bm.url)
			for _, class := range []messages.Class{messages.Success, messages.Failure, messages.Cancelled} {
				ch <- prometheus.MustNewConstMetric(descBackendRequests, prometheus.CounterValue, float64(pc.outcomes[class].Load()), name, bm.url, class.String())
			}
		}
	}
}

// forRoute returns route name's counters, the same ones for as long as the
// route stays in the config.
func (m *Metrics) forRoute(name string) *routeMetrics {
	s := &m.hot
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := s.routes[name]
	if rm == nil {
		rm = &routeMetrics{m: m, name: name}
		s.routes[name] = rm
	}
	return rm
}

// forBackend returns the counters of the pair of rm's route and url.
func (m *Metrics) forBackend(rm *routeMetrics, url string) *backendMetrics {
	s := &m.hot
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, bm := range rm.pairs {
		if bm.url == url {
			return bm
		}
	}
	bm := &backendMetrics{route: rm, url: url}
	rm.pairs = append(rm.pairs, bm)
	return bm
}

// forget drops the counters of the routes not in keep, and of the pairs
// whose backend keep does not list for their route.
func (s *hotStore) forget(keep map[string]map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.routes {
		if _, kept := keep[name]; !kept && name != routeNone {
			delete(s.routes, name)
		}
	}
	for name, rm := range s.routes {
		urls := keep[name]
		kept := rm.pairs[:0]
		for _, bm := range rm.pairs {
			if urls[bm.url] {
				kept = append(kept, bm)
			}
		}
		clear(rm.pairs[len(kept):])
		rm.pairs = kept
	}
}
