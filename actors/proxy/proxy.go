// Package proxy is ferrum's request path: it matches a request to a route,
// asks the route actor for a backend, forwards the request with clean
// headers, and streams the answer back, reporting each attempt's outcome to
// the backend's actor. It talks to actors only through their methods.
package proxy

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"ferrum/actors/proxy/headers"
	"ferrum/actors/proxy/pathx"
	"ferrum/proxyconf"
)

// Proxy is the client-facing HTTP handler. Its route table is swapped whole
// by SetTable; each request reads it once.
type Proxy struct {
	log      *slog.Logger
	version  string
	table    atomic.Pointer[Table] // written by SetTable
	draining atomic.Bool           // written by StartDrain
	metrics  *Metrics              // nil: no metrics; set once by New
	metricsH http.Handler
	tunnels  tunnels
}

// New returns a proxy serving t, counting in m (nil for none; t must then
// have been built without metrics too).
func New(log *slog.Logger, version string, t *Table, m *Metrics) *Proxy {
	p := &Proxy{log: log, version: version, metrics: m}
	if m != nil {
		p.metricsH = m.Handler()
	}
	p.SetTable(t)
	return p
}

// SetTable makes t the route table for requests that start from now on.
func (p *Proxy) SetTable(t *Table) {
	p.table.Store(t)
	if p.metrics != nil {
		p.metrics.table.Store(t)
	}
}

// Table returns the route table in force.
func (p *Proxy) Table() *Table { return p.table.Load() }

// StartDrain makes /health answer 503 from now on.
func (p *Proxy) StartDrain() { p.draining.Store(true) }

// httpServer returns the client-facing HTTP server for cfg, serving p.
func (p *Proxy) httpServer(cfg *proxyconf.Config) *http.Server {
	return &http.Server{
		Handler:           p,
		ReadHeaderTimeout: cfg.Server.ClientHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		// net/http allows 4 KiB beyond MaxHeaderBytes for its own buffering;
		// take it off so heads over max_header_bytes get 431.
		MaxHeaderBytes: max(cfg.Server.MaxHeaderBytes-4096, 1024),
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
}

// ServeHTTP handles one client request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t := p.table.Load()
	if len(r.TransferEncoding) > 0 || !r.ProtoAtLeast(1, 1) {
		// The framing may have been ambiguous, and net/http hides it:
		// it drops Content-Length from an HTTP/1.1 request that also
		// has Transfer-Encoding, and Transfer-Encoding from any HTTP/1.0
		// request (whose chunked body would then be read as the next
		// request). RFC 9112 says to close after such a message; since
		// they cannot be told apart, every chunked request and every
		// HTTP/1.0 request is the connection's last.
		w.Header().Set("Connection", "close")
	}
	path, query, hasQuery, ok := pathx.SplitTarget(r.RequestURI)
	if ok {
		path, ok = pathx.Normalize(path)
	}
	if ok && p.ownEndpoint(w, r, t, path) {
		return
	}
	if p.metrics != nil {
		p.metrics.inflight.Inc()
		defer p.metrics.inflight.Dec()
	}
	ex := exchange{}
	ex.id = requestID(r)
	ex.idHeader = []string{ex.id}
	ex.hasBody = r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	ex.reqBody = r.Body
	ex.expectContinue = ex.hasBody && strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	defer ex.releaseUnreported()
	switch {
	case !ok:
		p.fail(w, &ex, failure{kind: KindBadRequest, status: http.StatusBadRequest})
	default:
		idx, found := t.matcher.Match(path)
		if !found {
			if path == "/" && t.rootOK {
				w.Header()["X-Request-Id"] = ex.idHeader
				p.status(w)
				return
			}
			p.fail(w, &ex, failure{kind: KindNoRoute, status: http.StatusNotFound})
			break
		}
		ex.route = t.routes[idx]
		p.proxy(w, r, t, &ex, path, query, hasQuery)
	}
	p.complete(r, t, &ex, start)
	if ex.abort {
		// Headers are out: the only honest way left to fail is to cut the
		// connection. net/http recovers this value silently.
		panic(http.ErrAbortHandler)
	}
}

// proxy forwards a request that matched route ex.route.
func (p *Proxy) proxy(w http.ResponseWriter, r *http.Request, t *Table, ex *exchange, path, query string, hasQuery bool) {
	rt := ex.route
	protocol := headers.UpgradeType(r.Header)
	if protocol != "" && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) {
		// A request with a body is not turned into a tunnel (curl asks
		// for h2c on every plain-http request, POSTs included); its
		// Upgrade header is dropped like any hop-by-hop header.
		protocol = ""
	}
	p.cleanRequest(r, t, ex.idHeader)
	target := path
	if rt.conf.StripPrefix {
		target = pathx.StripPrefix(path, rt.conf.PathPrefix)
	}
	if hasQuery {
		target += "?" + query
	}
	if protocol != "" {
		p.upgrade(w, r, rt, target, protocol, ex)
		return
	}
	p.forward(w, r, rt, target, ex)
}

// requestID returns the client's X-Request-Id when sane, or a new one.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) == 1 && headers.ValidRequestID(v[0]) {
		return v[0]
	}
	return headers.NewRequestID()
}

// cleanRequest turns the client's header into the one backends receive:
// hop-by-hop headers gone, X-Forwarded-* set per trusted_proxies, the request
// id in place.
func (p *Proxy) cleanRequest(r *http.Request, t *Table, id []string) {
	h := r.Header
	headers.RemoveHopByHop(h)
	h["X-Request-Id"] = id
	peer := netip.Addr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr().Unmap()
	}
	headers.SetForwarded(h, peer, t.trust.Contains(peer), "http", r.Host)
}

// complete accounts for a finished client request: metrics, and the access
// log line when asked for.
func (p *Proxy) complete(r *http.Request, t *Table, ex *exchange, start time.Time) {
	if ex.status == 0 {
		ex.status = 499
	}
	elapsed := time.Since(start)
	rm, routeName := t.none, routeNone
	if ex.route != nil {
		rm, routeName = ex.route.metrics, ex.route.conf.PathPrefix
	}
	if rm != nil {
		rm.request(r.Method, ex.status, elapsed.Seconds(), ex.kind)
	}
	if !t.cfg.Log.AccessLog {
		return
	}
	backend := ""
	if ex.backend != nil {
		backend = ex.backend.url
	}
	p.log.Info("request_complete", "request_id", ex.id, "method", r.Method, "path", r.URL.Path,
		"route", routeName, "backend", backend, "status", ex.status,
		"attempts", ex.attempts, "duration", elapsed, "bytes", ex.bytes, "error_kind", ex.kind)
}
