package proxy

import (
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
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

// Render returns the exposition for a scraper whose Accept field is accept:
// Prometheus text 0.0.4, or OpenMetrics when it asks for it. In OpenMetrics
// a counter X_total and a gauge X are one family name, which a strict
// parser refuses (the Go collector's go_memstats_alloc_bytes_total and
// go_memstats_alloc_bytes are such a pair): the counter is left out there.
func (m *Metrics) Render(accept string) (contentType, body string, err error) {
	mfs, err := m.reg.Gather()
	if err != nil && len(mfs) == 0 {
		return "", "", err
	}
	format := expfmt.NegotiateAccept(http.Header{"Accept": {accept}}, exposition...)
	openMetrics := format.FormatType() == expfmt.TypeOpenMetrics
	var families map[string]bool
	if openMetrics {
		families = make(map[string]bool, len(mfs))
		for _, mf := range mfs {
			families[mf.GetName()] = true
		}
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, format)
	for _, mf := range mfs {
		if openMetrics && mf.GetType() == dto.MetricType_COUNTER {
			if base, ok := strings.CutSuffix(mf.GetName(), "_total"); ok && families[base] {
				continue
			}
		}
		if err := enc.Encode(mf); err != nil {
			return "", "", err
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
	return string(format), b.String(), nil
}

// Handler serves the exposition through net/http.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentType, body, err := m.Render(r.Header.Get("Accept"))
		if err != nil {
			http.Error(w, "metrics unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write([]byte(body))
	})
}

// commonCodes get a counter per route and method resolved on first use and
// kept; other codes are looked up by label (a locked map) each time.
var commonCodes = [...]int{200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 408, 413, 417, 429, 431, 499, 500, 501, 502, 503, 504}

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

// counterSlot caches one child of a counter vector, resolved on first use:
// a config with thousands of routes pays only for the series it uses.
type counterSlot struct{ p atomic.Pointer[counterBox] }

func (s *counterSlot) inc(vec *prometheus.CounterVec, a, b string) {
	if c := s.p.Load(); c != nil {
		c.c.Inc()
		return
	}
	s.resolve(vec, a, b).Inc()
}

// resolve looks the child up; two goroutines may race to store it, and
// both get the same counter from the vector, so either store is right.
func (s *counterSlot) resolve(vec *prometheus.CounterVec, a, b string) prometheus.Counter {
	var c prometheus.Counter
	if b == "" {
		c = vec.WithLabelValues(a)
	} else {
		c = vec.WithLabelValues(a, b)
	}
	s.p.Store(&counterBox{c})
	return c
}

// value reads the counter, 0 when it was never used.
func (s *counterSlot) value() float64 {
	if c := s.p.Load(); c != nil {
		return counterValue(c.c)
	}
	return 0
}

type observerBox struct{ o prometheus.Observer }

// observerSlot is counterSlot for a histogram.
type observerSlot struct{ p atomic.Pointer[observerBox] }

func (s *observerSlot) observe(vec *prometheus.HistogramVec, v float64, labels ...string) {
	if o := s.p.Load(); o != nil {
		o.o.Observe(v)
		return
	}
	s.resolve(vec, labels).Observe(v)
}

func (s *observerSlot) resolve(vec *prometheus.HistogramVec, labels []string) prometheus.Observer {
	o := vec.WithLabelValues(labels...)
	s.p.Store(&observerBox{o})
	return o
}

// codeTable is one route's requests_total children for the common codes,
// made on the route's first request.
type codeTable [len(methods)][len(commonCodes)]atomic.Pointer[counterBox]

// routeMetrics are one route's children. None exists before the route's
// first use: then every per-route series but requests_total is made at
// once (at zero), so a used route shows them all, and a config with
// thousands of idle routes pays nothing for them.
type routeMetrics struct {
	m        *Metrics
	name     string
	used     atomic.Bool
	codes    atomic.Pointer[codeTable]
	duration observerSlot
	retries  [5]counterSlot // by RetryReasons index
	skips    counterSlot
	errors   [13]counterSlot // by Kinds index
	tunnels  atomic.Pointer[gaugeBox]
	backends []*backendMetrics // the route's backends' children; set by BuildTable
}

type gaugeBox struct{ g prometheus.Gauge }

func (m *Metrics) forRoute(name string) *routeMetrics {
	return &routeMetrics{m: m, name: name}
}

// touch makes the route's series on its first use.
func (rm *routeMetrics) touch() {
	if rm.used.Load() || rm.used.Swap(true) {
		return
	}
	m := rm.m
	rm.duration.resolve(m.requestDuration, []string{rm.name})
	rm.skips.resolve(m.retriesSkipped, rm.name, "")
	for i, r := range RetryReasons {
		rm.retries[i].resolve(m.retries, rm.name, r)
	}
	for i, k := range Kinds {
		rm.errors[i].resolve(m.errors, rm.name, k)
	}
	rm.tunnels.Store(&gaugeBox{m.tunnels.WithLabelValues(rm.name)})
	for _, bm := range rm.backends {
		bm.touch()
	}
}

// request counts one finished client request.
func (rm *routeMetrics) request(method int, code int, seconds float64, kind string) {
	rm.touch()
	if code >= 0 && code < len(codeSlot) && codeSlot[code] >= 0 {
		t := rm.codes.Load()
		if t == nil {
			t = new(codeTable)
			if !rm.codes.CompareAndSwap(nil, t) {
				t = rm.codes.Load()
			}
		}
		slot := &t[method][codeSlot[code]]
		b := slot.Load()
		if b == nil {
			b = &counterBox{rm.m.requests.WithLabelValues(rm.name, methods[method], itoa3(code))}
			slot.Store(b)
		}
		b.c.Inc()
	} else {
		rm.m.requests.WithLabelValues(rm.name, methods[method], itoa3(code)).Inc()
	}
	rm.duration.observe(rm.m.requestDuration, seconds, rm.name)
	if kind != "" {
		if i := indexOf(Kinds, kind); i >= 0 {
			rm.errors[i].inc(rm.m.errors, rm.name, kind)
		}
	}
}

// retry counts a retry made for reason.
func (rm *routeMetrics) retry(reason string) {
	rm.touch()
	if i := indexOf(RetryReasons, reason); i >= 0 {
		rm.retries[i].inc(rm.m.retries, rm.name, reason)
	}
}

// skipped counts a retry the budget did not allow.
func (rm *routeMetrics) skipped() {
	rm.touch()
	rm.skips.inc(rm.m.retriesSkipped, rm.name, "")
}

// tunnel moves the route's open tunnels by delta.
func (rm *routeMetrics) tunnel(delta float64) {
	rm.touch()
	g := rm.tunnels.Load()
	if g == nil {
		g = &gaugeBox{rm.m.tunnels.WithLabelValues(rm.name)}
		rm.tunnels.Store(g)
	}
	g.g.Add(delta)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// backendMetrics are one (route, backend) pair's children, all made at the
// pair's first attempt.
type backendMetrics struct {
	m        *Metrics
	route    string
	url      string
	used     atomic.Bool
	duration observerSlot
	outcomes [3]counterSlot // by messages.Class
}

func (m *Metrics) forBackend(route, url string) *backendMetrics {
	return &backendMetrics{m: m, route: route, url: url}
}

// attempt counts one attempt of class c that took seconds.
func (bm *backendMetrics) attempt(c messages.Class, seconds float64) {
	bm.touch()
	s := &bm.outcomes[c]
	if b := s.p.Load(); b != nil {
		b.c.Inc()
	} else {
		bm.resolveOutcome(c).Inc()
	}
	bm.duration.observe(bm.m.upstreamDuration, seconds, bm.route, bm.url)
}

// touch makes the pair's series on first use.
func (bm *backendMetrics) touch() {
	if bm.used.Load() || bm.used.Swap(true) {
		return
	}
	for _, k := range []messages.Class{messages.Success, messages.Failure, messages.Cancelled} {
		bm.resolveOutcome(k)
	}
	bm.duration.resolve(bm.m.upstreamDuration, []string{bm.route, bm.url})
}

func (bm *backendMetrics) resolveOutcome(c messages.Class) prometheus.Counter {
	ctr := bm.m.backendRequests.WithLabelValues(bm.route, bm.url, c.String())
	bm.outcomes[c].p.Store(&counterBox{ctr})
	return ctr
}

func itoa3(c int) string {
	if c >= 100 && c <= 999 {
		return string([]byte{byte('0' + c/100), byte('0' + c/10%10), byte('0' + c%10)})
	}
	return "000"
}
