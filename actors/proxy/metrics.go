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

// routeNone labels requests that matched no route.
const routeNone = "none"

// Metrics holds ferrum's Prometheus series. The request path never looks a
// series up by label: each route table carries its routes' and pairs'
// counters (see routeMetrics and backendMetrics), the four families every
// request writes in ferrum's own storage (hotmetrics.go), the rarer ones
// as Prometheus children resolved on first use.
type Metrics struct {
	reg            *prometheus.Registry
	hot            hotStore
	retries        *prometheus.CounterVec
	retriesSkipped *prometheus.CounterVec
	tunnels        *prometheus.GaugeVec
	errors         *prometheus.CounterVec
	inflight       prometheus.Gauge
	reloads        *prometheus.CounterVec
	none           *routeMetrics
	// table is the route table the health collector reports on; written by
	// the proxy's SetTable.
	table atomic.Pointer[Table]
}

// NewMetrics registers every series of the contract, plus the Go runtime and
// process collectors, on a registry of its own. logDropped, when not nil,
// reports log lines dropped because stderr was slow.
func NewMetrics(version string, logDropped func() float64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.hot.routes = map[string]*routeMetrics{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m.retries = counter("ferrum_proxy_retries_total", "Retries made, by the reason of the failed attempt.", "route", "reason")
	m.retriesSkipped = counter("ferrum_proxy_retries_skipped_total", "Retries not made because the route's retry budget was spent.", "route")
	m.tunnels = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ferrum_proxy_tunnels_active", Help: "Upgraded connections (WebSocket tunnels) open."}, []string{"route"})
	m.errors = counter("ferrum_proxy_errors_total", "Failed client requests by error kind.", "route", "kind")
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferrum_proxy_inflight_requests", Help: "Client requests being served."})
	m.reloads = counter("ferrum_proxy_config_reloads_total", "Configuration reloads by result.", "result")
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ferrum_proxy_build_info", Help: "Build information; the value is always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(&hotCollector{m: m}, m.retries, m.retriesSkipped, m.tunnels, m.errors, m.inflight,
		m.reloads, build, &healthCollector{m: m},
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
	m.hot.forget(now)
	routeVecs := []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.retries, m.retriesSkipped, m.tunnels, m.errors}
	for _, r := range old.Routes {
		if _, kept := now[r.PathPrefix]; !kept {
			for _, v := range routeVecs {
				v.DeletePartialMatch(prometheus.Labels{"route": r.PathPrefix})
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

// commonCodes get a counter per route and method in the route's
// routeCounts; other codes one each in its map, made on first use.
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

// routeMetrics are one route's series. None shows before the route's first
// use: then every per-route series but requests_total appears at once (at
// zero), with those of the route's backends, so a used route shows them
// all, and a config with thousands of idle routes pays nothing for them.
//
// The counters every request writes are a block of their own, made on the
// route's first request (see routeCounts): apart from what every request
// reads here, and paid for only by the routes in use.
type routeMetrics struct {
	used    atomic.Bool
	counts  atomic.Pointer[routeCounts]
	m       *Metrics
	name    string
	retries [5]counterSlot // by RetryReasons index
	skips   counterSlot
	errors  [13]counterSlot // by Kinds index
	tunnels atomic.Pointer[gaugeBox]
	// pairs are the route's backends' counters, for as long as the config
	// lists them; guarded by the hotStore's lock.
	pairs []*backendMetrics
}

type gaugeBox struct{ g prometheus.Gauge }

// touch makes the route's series on its first use.
func (rm *routeMetrics) touch() {
	if rm.used.Load() || rm.used.Swap(true) {
		return
	}
	m := rm.m
	rm.skips.resolve(m.retriesSkipped, rm.name, "")
	for i, r := range RetryReasons {
		rm.retries[i].resolve(m.retries, rm.name, r)
	}
	for i, k := range Kinds {
		rm.errors[i].resolve(m.errors, rm.name, k)
	}
	rm.tunnels.Store(&gaugeBox{m.tunnels.WithLabelValues(rm.name)})
}

// request counts one finished client request.
func (rm *routeMetrics) request(method int, code int, seconds float64, kind string) {
	rm.touch()
	rm.made().request(method, code, seconds)
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

// backendMetrics are one (route, backend) pair's counters, shown from its
// route's first use, their block made on the pair's first attempt.
type backendMetrics struct {
	route  *routeMetrics
	url    string
	counts atomic.Pointer[pairCounts]
}

// attempt counts one attempt of class c that took seconds.
func (bm *backendMetrics) attempt(c messages.Class, seconds float64) {
	bm.route.touch()
	pc := bm.made()
	pc.outcomes[c].Add(1)
	pc.duration.observe(seconds)
}

func itoa3(c int) string {
	if c >= 100 && c <= 999 {
		return string([]byte{byte('0' + c/100), byte('0' + c/10%10), byte('0' + c%10)})
	}
	return "000"
}
