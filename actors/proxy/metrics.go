package proxy

import (
	"net/http"
	"runtime"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"ferrum/messages"
	"ferrum/proxyconf"
)

// durationBuckets resolve from 100 µs to 30 s.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// routeNone labels requests that matched no route.
const routeNone = "none"

// Metrics holds ferrum's Prometheus series. The request path never looks a
// series up by label: each route table carries children resolved once when
// it is built (see routeMetrics and backendMetrics).
type Metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	requestDuration  *prometheus.HistogramVec
	upstreamDuration *prometheus.HistogramVec
	backendRequests  *prometheus.CounterVec
	retries          *prometheus.CounterVec
	retriesSkipped   *prometheus.CounterVec
	tunnels          *prometheus.GaugeVec
	errors           *prometheus.CounterVec
	inflight         prometheus.Gauge
	reloads          *prometheus.CounterVec
	none             *routeMetrics
	// table is the route table the health collector reports on; written by
	// the proxy's SetTable.
	table atomic.Pointer[Table]
}

// NewMetrics registers every series of the contract, plus the Go runtime and
// process collectors, on a registry of its own. logDropped, when not nil,
// reports log lines dropped because stderr was slow.
func NewMetrics(version string, logDropped func() float64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, labels)
	}
	m.requests = counter("ferrum_proxy_requests_total", "Client requests, counted once however many attempts they took.", "route", "method", "code")
	m.requestDuration = histogram("ferrum_proxy_request_duration_seconds", "Time from a client request's arrival to the end of its response.", "route")
	m.upstreamDuration = histogram("ferrum_proxy_upstream_duration_seconds", "Duration of each attempt against a backend.", "route", "backend")
	m.backendRequests = counter("ferrum_proxy_backend_requests_total", "Attempts against a backend by outcome.", "route", "backend", "outcome")
	m.retries = counter("ferrum_proxy_retries_total", "Retries made, by the reason of the failed attempt.", "route", "reason")
	m.retriesSkipped = counter("ferrum_proxy_retries_skipped_total", "Retries not made because the route's retry budget was spent.", "route")
	m.tunnels = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ferrum_proxy_tunnels_active", Help: "Upgraded connections (WebSocket tunnels) open."}, []string{"route"})
	m.errors = counter("ferrum_proxy_errors_total", "Failed client requests by error kind.", "route", "kind")
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferrum_proxy_inflight_requests", Help: "Client requests being served."})
	m.reloads = counter("ferrum_proxy_config_reloads_total", "Configuration reloads by result.", "result")
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ferrum_proxy_build_info", Help: "Build information; the value is always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.requests, m.requestDuration, m.upstreamDuration, m.backendRequests, m.retries,
		m.retriesSkipped, m.tunnels, m.errors, m.inflight, m.reloads, build, &healthCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if logDropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferrum_proxy_log_lines_dropped_total", Help: "Log lines dropped because stderr could not keep up.",
		}, logDropped))
	}
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	m.none = m.forRoute(routeNone)
	return m
}

// Forget deletes the series of routes, and of route-backend pairs, that were
// in old and are not in cfg, so that a config with churning backends does
// not grow the exposition for ever. Requests still finishing on the old
// table count into the deleted series, unseen.
func (m *Metrics) Forget(old, cfg *proxyconf.Config) {
	now := map[string]map[string]bool{}
	for _, r := range cfg.Routes {
		urls := map[string]bool{}
		for _, b := range r.Backends {
			urls[b.URL] = true
		}
		now[r.PathPrefix] = urls
	}
	routeVecs := []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.requests, m.requestDuration, m.upstreamDuration, m.backendRequests, m.retries, m.retriesSkipped, m.tunnels, m.errors}
	for _, r := range old.Routes {
		urls, kept := now[r.PathPrefix]
		if !kept {
			for _, v := range routeVecs {
				v.DeletePartialMatch(prometheus.Labels{"route": r.PathPrefix})
			}
			continue
		}
		for _, b := range r.Backends {
			if !urls[b.URL] {
				pair := prometheus.Labels{"route": r.PathPrefix, "backend": b.URL}
				m.upstreamDuration.DeletePartialMatch(pair)
				m.backendRequests.DeletePartialMatch(pair)
			}
		}
	}
}

// ConfigReload counts one reload attempt.
func (m *Metrics) ConfigReload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
	} else {
		m.reloads.WithLabelValues("failure").Inc()
	}
}

// exposition lists the formats /metrics offers, by preference when the
// scraper accepts several; anything else gets the text format.
var exposition = []expfmt.Format{expfmt.FmtOpenMetrics_1_0_0, expfmt.FmtOpenMetrics_0_0_1, expfmt.FmtText}

// Handler serves the exposition: Prometheus text 0.0.4, or OpenMetrics when
// the scraper's Accept asks for it.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mfs, err := m.reg.Gather()
		if err != nil && len(mfs) == 0 {
			http.Error(w, "metrics unavailable", http.StatusInternalServerError)
			return
		}
		format := expfmt.NegotiateAccept(r.Header, exposition...)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			_ = c.Close()
		}
	})
}

// methods are the method label values; anything else is OTHER.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

func methodIndex(m string) int {
	for i, s := range methods[:len(methods)-1] {
		if s == m {
			return i
		}
	}
	return len(methods) - 1
}

// commonCodes get a counter per route and method resolved on first use and
// kept; other codes are looked up by label (a locked map) each time.
var commonCodes = [...]int{200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 408, 413, 429, 431, 499, 500, 501, 502, 503, 504}

var codeSlot = func() (s [600]int8) {
	for i := range s {
		s[i] = -1
	}
	for i, c := range commonCodes {
		s[c] = int8(i)
	}
	return s
}()

type counterBox struct{ c prometheus.Counter }

// routeMetrics are one route's children.
type routeMetrics struct {
	m        *Metrics
	name     string
	codes    [len(methods)][len(commonCodes)]atomic.Pointer[counterBox]
	duration prometheus.Observer
	retries  map[string]prometheus.Counter // by reason; read-only once built
	skipped  prometheus.Counter
	errors   map[string]prometheus.Counter // by kind; read-only once built
	tunnels  prometheus.Gauge
}

func (m *Metrics) forRoute(name string) *routeMetrics {
	rm := &routeMetrics{m: m, name: name, duration: m.requestDuration.WithLabelValues(name),
		retries: map[string]prometheus.Counter{}, errors: map[string]prometheus.Counter{},
		skipped: m.retriesSkipped.WithLabelValues(name), tunnels: m.tunnels.WithLabelValues(name)}
	for _, r := range RetryReasons {
		rm.retries[r] = m.retries.WithLabelValues(name, r)
	}
	for _, k := range Kinds {
		rm.errors[k] = m.errors.WithLabelValues(name, k)
	}
	return rm
}

// request counts one finished client request.
func (rm *routeMetrics) request(method string, code int, seconds float64, kind string) {
	mi := methodIndex(method)
	if code >= 0 && code < len(codeSlot) && codeSlot[code] >= 0 {
		slot := &rm.codes[mi][codeSlot[code]]
		b := slot.Load()
		if b == nil {
			// Two requests may race to resolve the same child; both get
			// the same counter from the vector, so either store is right.
			b = &counterBox{rm.m.requests.WithLabelValues(rm.name, methods[mi], itoa3(code))}
			slot.Store(b)
		}
		b.c.Inc()
	} else {
		rm.m.requests.WithLabelValues(rm.name, methods[mi], itoa3(code)).Inc()
	}
	rm.duration.Observe(seconds)
	if kind != "" {
		if c := rm.errors[kind]; c != nil {
			c.Inc()
		}
	}
}

// backendMetrics are one (route, backend) pair's children.
type backendMetrics struct {
	duration prometheus.Observer
	outcomes [3]prometheus.Counter // by messages.Class
}

func (m *Metrics) forBackend(route, url string) *backendMetrics {
	bm := &backendMetrics{duration: m.upstreamDuration.WithLabelValues(route, url)}
	for _, c := range []messages.Class{messages.Success, messages.Failure, messages.Cancelled} {
		bm.outcomes[c] = m.backendRequests.WithLabelValues(route, url, c.String())
	}
	return bm
}

func itoa3(c int) string {
	if c >= 100 && c <= 999 {
		return string([]byte{byte('0' + c/100), byte('0' + c/10%10), byte('0' + c%10)})
	}
	return "000"
}
