package proxy

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ferrum/actors"
	"ferrum/actors/proxy/headers"
	"ferrum/actors/proxy/wire"
)

// Paths of the proxy's own endpoints.
const (
	pathHealth         = "/health"
	pathHealthBackends = "/health/backends"
	pathMetrics        = "/metrics"
)

// answer is one of the proxy's own answers, whole, so the client loop and
// the debug listener's net/http server can both send it.
type answer struct {
	status      int
	contentType string
	body        string
	extra       []wire.Field
}

var (
	noStore   = []wire.Field{{Name: []byte("Cache-Control"), Value: []byte("no-store")}}
	challenge = []wire.Field{{Name: []byte("WWW-Authenticate"), Value: []byte("Bearer")}}
)

// ownEndpoint serves the proxy's own paths on the client listener and
// reports whether it did. /health is always the proxy's; the debug paths are
// too unless debug.listen moved them.
func (p *Proxy) ownEndpoint(cc *clientConn, t *Table) bool {
	var a answer
	switch cc.r.path {
	case pathHealth:
		a = p.health()
	case pathHealthBackends, pathMetrics:
		if t.cfg.Debug.Listen != "" {
			return false
		}
		accept, _ := fieldValue(cc.req.Fields, "accept")
		auth, _ := fieldValue(cc.req.Fields, "authorization")
		a = p.debug(t, cc.r.path, string(accept), string(auth))
	default:
		return false
	}
	cc.r.status = a.status
	if err := cc.writeAnswer(a.status, a.contentType, a.body, cc.r.close || cc.r.body.present(), a.extra); err != nil {
		cc.r.abort = true
	}
	return true
}

// status answers GET / when no route has "/": a short plain-text note.
func (p *Proxy) status(cc *clientConn) {
	cc.r.status = http.StatusOK
	body := fmt.Sprintf("ferrum %s is running; see /health and /health/backends\n", p.version)
	if err := cc.writeAnswer(http.StatusOK, "text/plain; charset=utf-8", body, cc.r.close, nil); err != nil {
		cc.r.abort = true
	}
}

// DebugHandler serves /health/backends, /metrics and /health on the separate
// debug listener, through net/http.
func (p *Proxy) DebugHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if len(r.Header["X-Request-Id"]) != 1 || !headers.ValidRequestID(id) {
			id = string(appendNewID(nil))
		}
		var a answer
		switch r.URL.Path {
		case pathHealth:
			a = p.health()
		case pathHealthBackends, pathMetrics:
			a = p.debug(p.table.Load(), r.URL.Path, r.Header.Get("Accept"), r.Header.Get("Authorization"))
		default:
			a = answer{status: http.StatusNotFound, contentType: "text/plain; charset=utf-8", body: statusBody(http.StatusNotFound)}
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Request-Id", id)
		for _, f := range a.extra {
			h.Set(string(f.Name), string(f.Value))
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	})
}

func (p *Proxy) health() answer {
	if p.draining.Load() {
		return answer{status: http.StatusServiceUnavailable, contentType: "application/json", body: `{"status":"draining"}` + "\n", extra: noStore}
	}
	return answer{status: http.StatusOK, contentType: "application/json", body: `{"status":"ok"}` + "\n", extra: noStore}
}

// debug serves one debug path after the expose and token checks.
func (p *Proxy) debug(t *Table, path, accept, authorization string) answer {
	d := t.cfg.Debug
	exposed := d.ExposeBackendHealth
	if path == pathMetrics {
		exposed = d.ExposeMetrics
	}
	plainText := "text/plain; charset=utf-8"
	if !exposed {
		return answer{status: http.StatusNotFound, contentType: plainText, body: statusBody(http.StatusNotFound)}
	}
	if d.AuthToken != "" && !tokenOK(authorization, d.AuthToken) {
		return answer{status: http.StatusUnauthorized, contentType: plainText, body: statusBody(http.StatusUnauthorized), extra: challenge}
	}
	if path == pathMetrics {
		contentType, body, err := p.metrics.Render(accept)
		if err != nil {
			return answer{status: http.StatusInternalServerError, contentType: plainText, body: "metrics unavailable\n"}
		}
		return answer{status: http.StatusOK, contentType: contentType, body: body}
	}
	return p.backends(t, accept)
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

// backends is /health/backends: JSON, or one line per backend for a client
// that asks for text/plain. It reads only published snapshots and views:
// it never waits on an actor.
func (p *Proxy) backends(t *Table, accept string) answer {
	if strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json") {
		var b strings.Builder
		for _, rt := range t.routes {
			for _, u := range rt.backends {
				word := "unhealthy"
				if u.actor.Snapshot().InRotation() {
					word = "healthy"
				}
				fmt.Fprintf(&b, "%s %s\n", u.url, word)
			}
		}
		return answer{status: http.StatusOK, contentType: "text/plain; charset=utf-8", body: b.String(), extra: noStore}
	}
	doc := backendsDoc{Routes: make([]routeDoc, 0, len(t.routes))}
	for _, rt := range t.routes {
		inflight := rt.actor.Inflight()
		rd := routeDoc{PathPrefix: rt.conf.PathPrefix, Balancing: string(rt.conf.Balancing)}
		for i, u := range rt.backends {
			bd := backendDoc{URL: u.url}
			fillBackend(&bd, u.actor.Snapshot())
			if i < len(inflight) {
				bd.Inflight = inflight[i]
			}
			rd.Backends = append(rd.Backends, bd)
		}
		doc.Routes = append(doc.Routes, rd)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
	return answer{status: http.StatusOK, contentType: "application/json", body: buf.String(), extra: noStore}
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
