package proxy

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ferrum/actors"
)

// Paths of the proxy's own endpoints.
const (
	pathHealth         = "/health"
	pathHealthBackends = "/health/backends"
	pathMetrics        = "/metrics"
)

// ownEndpoint serves the proxy's own paths on the client-facing listener and
// reports whether it did. /health is always the proxy's; the debug paths are
// too unless debug.listen moved them.
func (p *Proxy) ownEndpoint(w http.ResponseWriter, r *http.Request, t *Table, path string) bool {
	switch path {
	case pathHealth:
		setRequestID(w, r)
		p.health(w)
		return true
	case pathHealthBackends, pathMetrics:
		if t.cfg.Debug.Listen != "" {
			return false
		}
		setRequestID(w, r)
		p.debug(w, r, t, path)
		return true
	}
	return false
}

// setRequestID gives an answer of the proxy's own the request's id, as
// proxied answers have.
func setRequestID(w http.ResponseWriter, r *http.Request) string {
	id := requestID(r)
	w.Header()["X-Request-Id"] = []string{id}
	return id
}

// DebugHandler serves /health/backends, /metrics and /health on the separate
// debug listener.
func (p *Proxy) DebugHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := setRequestID(w, r)
		switch r.URL.Path {
		case pathHealth:
			p.health(w)
		case pathHealthBackends, pathMetrics:
			p.debug(w, r, p.table.Load(), r.URL.Path)
		default:
			plain(w, http.StatusNotFound, id)
		}
	})
}

func (p *Proxy) health(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if p.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"draining"}`+"\n")
		return
	}
	fmt.Fprint(w, `{"status":"ok"}`+"\n")
}

func (p *Proxy) status(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ferrum %s is running; see /health and /health/backends\n", p.version)
}

// debug serves one debug path after the expose and token checks.
func (p *Proxy) debug(w http.ResponseWriter, r *http.Request, t *Table, path string) {
	d := t.cfg.Debug
	exposed := d.ExposeBackendHealth
	if path == pathMetrics {
		exposed = d.ExposeMetrics && p.metricsH != nil
	}
	if !exposed {
		plain(w, http.StatusNotFound, "") // the id is already set
		return
	}
	if d.AuthToken != "" && !tokenOK(r.Header.Get("Authorization"), d.AuthToken) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		plain(w, http.StatusUnauthorized, "")
		return
	}
	if path == pathMetrics {
		p.metricsH.ServeHTTP(w, r)
		return
	}
	p.backends(w, r, t)
}

// tokenOK compares a bearer token in constant time.
func tokenOK(authorization, want string) bool {
	const prefix = "Bearer "
	if len(authorization) < len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return false
	}
	got := strings.TrimSpace(authorization[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// The JSON shape of /health/backends, as the contract gives it.
type (
	backendsDoc struct {
		Routes []routeDoc `json:"routes"`
	}
	routeDoc struct {
		PathPrefix string       `json:"path_prefix"`
		Balancing  string       `json:"balancing"`
		Backends   []backendDoc `json:"backends"`
	}
	backendDoc struct {
		URL                  string         `json:"url"`
		Healthy              bool           `json:"healthy"`
		State                string         `json:"state"`
		ConsecutiveFailures  int            `json:"consecutive_failures"`
		ConsecutiveSuccesses int            `json:"consecutive_successes"`
		EjectedUntil         *string        `json:"ejected_until"`
		Ejections            uint64         `json:"ejections"`
		Inflight             int            `json:"inflight"`
		LastCheck            *checkDoc      `json:"last_check"`
		LastTransition       *transitionDoc `json:"last_transition"`
	}
	checkDoc struct {
		At        string  `json:"at"`
		OK        bool    `json:"ok"`
		Status    int     `json:"status"`
		LatencyMS float64 `json:"latency_ms"`
		Error     string  `json:"error"`
	}
	transitionDoc struct {
		At     string `json:"at"`
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
)

func (p *Proxy) backends(w http.ResponseWriter, r *http.Request, t *Table) {
	w.Header().Set("Cache-Control", "no-store")
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, rt := range t.routes {
			for _, b := range rt.backends {
				word := "unhealthy"
				if b.actor.Snapshot().InRotation() {
					word = "healthy"
				}
				fmt.Fprintf(w, "%s %s\n", b.url, word)
			}
		}
		return
	}
	doc := backendsDoc{Routes: make([]routeDoc, 0, len(t.routes))}
	for _, rt := range t.routes {
		inflight := rt.actor.Inflight()
		rd := routeDoc{PathPrefix: rt.conf.PathPrefix, Balancing: string(rt.conf.Balancing)}
		for i, b := range rt.backends {
			bd := backendDoc{URL: b.url}
			fillBackend(&bd, b.actor.Snapshot())
			if i < len(inflight) {
				bd.Inflight = inflight[i]
			}
			rd.Backends = append(rd.Backends, bd)
		}
		doc.Routes = append(doc.Routes, rd)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

func fillBackend(bd *backendDoc, s *actors.BackendSnapshot) {
	bd.Healthy = s.InRotation()
	bd.State = s.State.String()
	// One number for two streaks: whichever is closer to the threshold.
	bd.ConsecutiveFailures = max(s.ConsecFails, s.ProbeFails)
	bd.ConsecutiveSuccesses = s.ConsecOKs
	bd.Ejections = s.Ejections
	if !s.EjectedUntil.IsZero() {
		v := s.EjectedUntil.UTC().Format(time.RFC3339Nano)
		bd.EjectedUntil = &v
	}
	if c := s.LastCheck; c != nil {
		bd.LastCheck = &checkDoc{
			At: c.At.UTC().Format(time.RFC3339Nano), OK: c.OK, Status: c.Status,
			LatencyMS: float64(c.Latency.Microseconds()) / 1000, Error: c.Err,
		}
	}
	if c := s.LastChange; c != nil {
		bd.LastTransition = &transitionDoc{
			At: c.At.UTC().Format(time.RFC3339Nano), From: c.From.String(), To: c.To.String(), Reason: c.Reason,
		}
	}
}
