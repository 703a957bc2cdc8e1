// Package proxy is ferrum's request path: it matches a request to a route,
// asks the route actor for a backend, forwards the request with clean
// headers, and streams the answer back, reporting each attempt's outcome to
// the backend's actor. It talks to actors only through their methods.
package proxy

import (
	"log/slog"
	"net/http"
	"net/netip"
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
	// Metrics serves /metrics when set; written once before serving.
	Metrics http.Handler
}

// New returns a proxy serving t.
func New(log *slog.Logger, version string, t *Table) *Proxy {
	p := &Proxy{log: log, version: version}
	p.table.Store(t)
	return p
}

// SetTable makes t the route table for requests that start from now on.
func (p *Proxy) SetTable(t *Table) { p.table.Store(t) }

// Table returns the route table in force.
func (p *Proxy) Table() *Table { return p.table.Load() }

// StartDrain makes /health answer 503 from now on.
func (p *Proxy) StartDrain() { p.draining.Store(true) }

// NewServer returns the client-facing HTTP server for cfg, serving p.
func (p *Proxy) NewServer(cfg *proxyconf.Config) *http.Server {
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
	t := p.table.Load()
	path, query, hasQuery, ok := pathx.SplitTarget(r.RequestURI)
	if ok {
		path, ok = pathx.Normalize(path)
	}
	if !ok {
		plain(w, http.StatusBadRequest, "")
		return
	}
	if p.ownEndpoint(w, r, t, path) {
		return
	}
	idx, ok := t.matcher.Match(path)
	if !ok {
		if path == "/" && t.rootOK {
			p.status(w)
			return
		}
		plain(w, http.StatusNotFound, requestID(r))
		return
	}
	rt := t.routes[idx]
	ex := exchange{route: rt}
	ex.id = requestID(r)
	ex.idHeader = []string{ex.id}
	p.cleanRequest(r, t, ex.idHeader)
	if len(r.TransferEncoding) > 0 {
		// The request may have carried both Content-Length and
		// Transfer-Encoding (net/http drops the former before we can
		// tell), so do not trust the rest of this connection.
		w.Header().Set("Connection", "close")
	}
	target := path
	if rt.conf.StripPrefix {
		target = pathx.StripPrefix(path, rt.conf.PathPrefix)
	}
	if hasQuery {
		target += "?" + query
	}
	start := time.Now()
	p.forward(w, r, rt, target, &ex)
	p.complete(r, t, &ex, start)
	if ex.abort {
		// Headers are out: the only honest way left to fail is to cut the
		// connection. net/http recovers this value silently.
		panic(http.ErrAbortHandler)
	}
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
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent
	}
}

// complete accounts for a finished client request.
func (p *Proxy) complete(r *http.Request, t *Table, ex *exchange, start time.Time) {
	if ex.status == 0 {
		ex.status = 499
	}
	if !t.cfg.Log.AccessLog {
		return
	}
	backend := ""
	if ex.backend != nil {
		backend = ex.backend.url
	}
	p.log.Info("request_complete", "request_id", ex.id, "method", r.Method, "path", r.URL.Path,
		"route", ex.route.conf.PathPrefix, "backend", backend, "status", ex.status,
		"attempts", ex.attempts, "duration", time.Since(start), "bytes", ex.bytes, "error_kind", ex.kind)
}
