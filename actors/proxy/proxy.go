// Package proxy is ferrum's request path: its own HTTP/1.1 connection loop
// reads each request head into a per-connection buffer, matches it to a
// route, asks the route actor for a backend, forwards the request with clean
// fields on a pooled upstream connection in the same goroutine, and streams
// the answer back, reporting each attempt's outcome to the backend's actor.
// It talks to actors only through their methods.
package proxy

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/proxyconf"
)

// Proxy is what every client connection shares: the route table (swapped
// whole by SetTable; each request reads it once), the drain flags, the
// metrics, and the open tunnels.
type Proxy struct {
	log     *slog.Logger
	version string
	metrics *Metrics              // never nil
	listen  *proxyconf.Config     // the settings the listeners started with; never written after New
	table   atomic.Pointer[Table] // written by SetTable
	tunnels tunnels               //
	// draining is set when a drain begins: every answer from then on
	// carries Connection: close. listenerClosed is set when the listeners
	// close: idle connections then close too.
	draining       atomic.Bool
	listenerClosed atomic.Bool

	shortage shortageLog // local resource shortages, logged at most every few seconds
	retries  rateLog     // retry_attempt lines, at most a few a second
}

// New returns a proxy serving t, counting in m. listen is the configuration
// the listeners run with: the settings only a restart changes come from it.
func New(log *slog.Logger, version string, listen *proxyconf.Config, t *Table, m *Metrics) *Proxy {
	p := &Proxy{log: log, version: version, metrics: m, listen: listen}
	p.retries.every = time.Second / retryLinesPerSecond
	p.SetTable(t)
	return p
}

// SetTable makes t the route table for requests that start from now on.
func (p *Proxy) SetTable(t *Table) {
	p.table.Store(t)
	p.metrics.table.Store(t)
}

// Table returns the route table in force.
func (p *Proxy) Table() *Table { return p.table.Load() }

// StartDrain makes /health answer 503 from now on, and every answer carry
// Connection: close.
func (p *Proxy) StartDrain() { p.draining.Store(true) }

// retryLinesPerSecond bounds the retry_attempt lines: a backend failing
// under load would otherwise log once per request.
const retryLinesPerSecond = 10

// retryLog counts a retry and logs it, at most retryLinesPerSecond a second;
// a line says how many were left out since the last.
func (p *Proxy) retryLog(cc *clientConn, rt *route, b *upstream, attempt int, reason string) {
	rt.metrics.retry(reason)
	if skipped, ok := p.retries.allow(); ok {
		p.log.Info("retry_attempt", "request_id", string(cc.idBuf), "route", rt.conf.PathPrefix, "backend", b.url,
			"attempt", attempt, "reason", reason, "not_logged_before", skipped)
	}
}

// rateLog lets a line through at most once per every; the others are
// counted and the count handed to the next line let through.
type rateLog struct {
	every   time.Duration
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (l *rateLog) allow() (skipped int, ok bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.last) < l.every {
		l.skipped++
		return 0, false
	}
	l.last, skipped, l.skipped = now, l.skipped, 0
	return skipped, true
}

// shortageEvery is the least time between two warnings of a local shortage.
const shortageEvery = 10 * time.Second

// shortageLog warns of ferrum itself running short (file descriptors,
// ports), rate-limited, saying how many requests it hit.
type shortageLog struct {
	mu   sync.Mutex
	last time.Time
	hits int
}

// note counts one request or accept that hit a shortage and warns when the
// last warning is old enough.
func (s *shortageLog) note(log *slog.Logger, what string) {
	now := time.Now()
	s.mu.Lock()
	s.hits++
	if now.Sub(s.last) < shortageEvery {
		s.mu.Unlock()
		return
	}
	hits := s.hits
	s.last, s.hits = now, 0
	s.mu.Unlock()
	log.Warn("local_resources", "ran_out_of", what, "hits", hits, "error",
		"ferrum ran out of "+what+"; raise the limit (LimitNOFILE, ulimit -n, net.ipv4.ip_local_port_range) or lower the load")
}
