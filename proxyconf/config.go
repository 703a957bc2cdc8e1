// Package proxyconf turns ferrum.toml into a validated, immutable Config.
//
// Nothing else in ferrum parses TOML. Defaults and route inheritance are
// resolved here, once: a Route carries its effective Health, Retry and
// Upstream settings, so no consumer ever looks at the global sections to
// complete a route.
//
// A Config returned by Default, Load or Parse is never modified afterwards,
// by this package or by anyone else; it may be read from any goroutine.
package proxyconf

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// Config is a validated, immutable ferrum configuration. Route-level sections
// are already resolved: each was inherited key by key from the global one.
type Config struct {
	File     string   // path it was loaded from, as given to Load or Parse
	Server   Server   // [server]
	Upstream Upstream // global [upstream]
	Health   Health   // global [health]
	Retry    Retry    // global [retry]
	Debug    Debug    // [debug]
	Log      Log      // [log]
	Routes   []Route  // [[route]], in file order
}

// Server is the [server] section: the listener and the lifecycle of the
// connections it accepts.
type Server struct {
	Listen                  string        // host:port to listen on
	ShutdownDelay           time.Duration // keep serving this long after a stop signal, /health at 503; may be 0
	GracefulShutdownTimeout time.Duration // then wait this long for in-flight requests
	ClientHeaderTimeout     time.Duration // the whole request head must arrive within this
	ClientBodyTimeout       time.Duration // longest pause between reads of a request body
	ClientBodyMinRate       int64         // bytes/s a request body must average after a 5 s grace period, else 408; 0: none
	IdleTimeout             time.Duration // keep-alive connections idle longer are closed
	MaxHeaderBytes          int           // larger request heads get 431
	// TrustedProxies are the peers whose X-Forwarded-* headers are extended
	// rather than replaced. A bare IP in the file becomes a /32 or /128.
	TrustedProxies []netip.Prefix
	FailOnDeadPool bool // refuse to start when a route has no backend passing its first probe
}

// Upstream is an [upstream] section: how ferrum talks to backends.
type Upstream struct {
	ConnectTimeout         time.Duration // dialing a backend
	ReadTimeout            time.Duration // until response headers, and the longest pause inside the body
	MaxRequestBodyBytes    int64         // larger request bodies get 413
	MaxResponseBodyBytes   int64         // a larger upstream body is cut off
	MaxIdleConnsPerBackend int           // idle keep-alive connections kept per backend
	IdleConnTimeout        time.Duration // an idle keep-alive connection to a backend is closed after this
}

// StatusRange is an inclusive range of HTTP status codes, 100 <= Min <= Max <= 599.
type StatusRange struct{ Min, Max int }

// Contains reports whether code lies in the range, bounds included.
func (r StatusRange) Contains(code int) bool { return r.Min <= code && code <= r.Max }

// Health is a [health] section: active probing and passive ejection.
type Health struct {
	Interval             time.Duration // between two probes of one backend
	Timeout              time.Duration // a probe answering later fails
	Endpoint             string        // path probed with GET; starts with "/"
	FailureThreshold     int           // consecutive failures (active or passive) before a backend is out
	RecoveryThreshold    int           // consecutive passing probes before it is healthy again
	SuccessStatus        StatusRange   // probe statuses that pass
	PassiveFailureStatus StatusRange   // live-traffic statuses that count as failures
	EjectionDuration     time.Duration // first ejection; doubles for a backend that keeps flapping
	MaxEjectionDuration  time.Duration // cap of that doubling; never below EjectionDuration
	MaxEjectedPercent    int           // 0..100; passive ejection never takes more of a route out
	SlowStart            time.Duration // ramp-up window of a returning backend; 0 turns it off
}

// Retry is a [retry] section.
type Retry struct {
	MaxAttempts          int           // attempts in all, the first included; 1 turns retries off
	TotalTimeout         time.Duration // budget for all attempts of one request together
	Backoff              time.Duration // base delay between attempts, jitter added by the caller
	RetryOnStatus        []int         // upstream statuses worth another attempt; each 100..599
	MaxBufferedBodyBytes int64         // idempotent request bodies up to this size are kept for a retry
	BudgetPercent        int           // 0..100; retries in flight stay under this share of requests in flight
	MinRetryConcurrency  int           // this many concurrent retries are always allowed
}

// RetriesStatus reports whether an upstream answer with this status code is
// worth another attempt, that is whether code is in RetryOnStatus.
func (r Retry) RetriesStatus(code int) bool { return slices.Contains(r.RetryOnStatus, code) }

// Debug is the [debug] section: who may read /health/backends and /metrics.
type Debug struct {
	ExposeBackendHealth bool   // false: /health/backends answers 404
	ExposeMetrics       bool   // false: /metrics answers 404
	AuthToken           string // non-empty: a bearer token is required; FERRUM_DEBUG_TOKEN already applied
	Listen              string // non-empty: the debug endpoints are served on this host:port only
}

// Log is the [log] section.
type Log struct {
	Level          slog.Level // from "debug", "info", "warn" or "error"
	Format         string     // "text" or "json"
	AccessLog      bool       // log request_complete for every request
	AccessLogQuery bool       // request_complete includes the query string
}

// Balancing names the strategy a route uses to pick a backend.
type Balancing string

// The balancing strategies of the contract.
const (
	RoundRobin     Balancing = "round_robin"
	FirstHealthy   Balancing = "first_healthy"
	LeastRequests  Balancing = "least_requests"
	ConsistentHash Balancing = "consistent_hash"
)

// HashSource names where consistent_hash takes its key from.
type HashSource string

// The hash key sources of the contract.
const (
	HashClientIP HashSource = "client_ip"
	HashHeader   HashSource = "header"
	HashCookie   HashSource = "cookie"
	HashQuery    HashSource = "query"
)

// HashKey is a route's consistent_hash key: the source and, for every source
// but client_ip, the name to look up. A header name is in canonical MIME form
// ("X-User-Id"), so it can index an http.Header directly.
type HashKey struct {
	Source HashSource
	Name   string
}

// Backend is one upstream server of a route.
type Backend struct {
	// URL is the normalized form, "http://host:port": lowercase, port made
	// explicit, no trailing slash. It is the backend's identity everywhere:
	// metric labels, logs, /health/backends, and matching across reloads.
	URL    string
	Host   string // "host:port" to dial
	Weight int    // 1..100
}

// Route is one [[route]] table with everything it inherits resolved.
type Route struct {
	PathPrefix        string        // starts with "/"; no trailing "/" except the catch-all "/"
	Backends          []Backend     // at least one, no two with the same URL, in file order
	Balancing         Balancing     // default RoundRobin
	HashKey           HashKey       // meaningful with ConsistentHash only; default client_ip
	StripPrefix       bool          // remove PathPrefix before forwarding
	PreserveHost      bool          // pass the client's Host; default true
	ClientBodyTimeout time.Duration // default Server.ClientBodyTimeout
	Health            Health        // global [health] overridden key by key by [route.health]
	Retry             Retry         // global [retry] overridden key by key by [route.retry]
	Upstream          Upstream      // global [upstream] overridden key by key by [route.upstream]
}

// Default returns the configuration with every default of the contract and
// no routes. Each call returns a new value that shares nothing with another.
func Default() Config {
	return Config{
		Server: Server{
			Listen:                  "0.0.0.0:8080",
			ShutdownDelay:           0,
			GracefulShutdownTimeout: 30 * time.Second,
			ClientHeaderTimeout:     10 * time.Second,
			ClientBodyTimeout:       15 * time.Second,
			ClientBodyMinRate:       240,
			IdleTimeout:             90 * time.Second,
			MaxHeaderBytes:          65536,
		},
		Upstream: Upstream{
			ConnectTimeout:         3 * time.Second,
			ReadTimeout:            15 * time.Second,
			MaxRequestBodyBytes:    16 << 20,
			MaxResponseBodyBytes:   64 << 20,
			MaxIdleConnsPerBackend: 128,
			IdleConnTimeout:        60 * time.Second,
		},
		Health: Health{
			Interval:             10 * time.Second,
			Timeout:              2 * time.Second,
			Endpoint:             "/health",
			FailureThreshold:     3,
			RecoveryThreshold:    2,
			SuccessStatus:        StatusRange{200, 399},
			PassiveFailureStatus: StatusRange{500, 599},
			EjectionDuration:     30 * time.Second,
			MaxEjectionDuration:  5 * time.Minute,
			MaxEjectedPercent:    50,
			SlowStart:            0,
		},
		Retry: Retry{
			MaxAttempts:          2,
			TotalTimeout:         5 * time.Second,
			Backoff:              50 * time.Millisecond,
			RetryOnStatus:        []int{502, 503, 504},
			MaxBufferedBodyBytes: 65536,
			BudgetPercent:        20,
			MinRetryConcurrency:  3,
		},
		Debug: Debug{
			ExposeBackendHealth: true,
			ExposeMetrics:       true,
		},
		Log: Log{
			Level:          slog.LevelInfo,
			Format:         "text",
			AccessLogQuery: true,
		},
	}
}
