// Package fakebackend is the backend ferrum is tested, demonstrated and
// benchmarked against: an http.Handler that reports who answered and what it
// received, and that tests can steer per request through query knobs.
//
// GET /health answers HealthStatus with the body "ok\n". It honours only the
// status and delay knobs below and is not counted by FailEvery.
//
// Every other answer carries these headers:
//
//	X-Backend         Options.Name
//	X-Request-Bytes   length of the request body as received
//	X-Request-Sha256  hex SHA-256 of the request body
//	X-Seen-Path       r.URL.RequestURI(), the path and query as received
//	X-Seen-Host       r.Host, the Host the request arrived with
//
// Query knobs, each overriding the matching Options field for one request:
//
//	?status=N         answer status N (200..599)
//	?delay=D          wait D (Go duration) before answering
//	?bytes=N          answer a body of exactly N bytes
//	?echo=1           return every request header H as X-Echo-H
//	?chunks=N         stream N name lines, flushing after each,
//	&interval=D       waiting D between them (no Content-Length)
//
// The knobs stay in the query, so they reach the backend only if the proxy
// forwards the query unchanged, which ferrum must do.
package fakebackend

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Options describes one fake backend. The zero value is a backend named ""
// that answers 200 at once with a one-line body.
type Options struct {
	// Name is reported in the body and in the X-Backend header.
	Name string
	// Status is the status of normal answers; 0 means 200.
	Status int
	// Delay is how long to wait before answering. The wait ends early, with
	// no answer, when the request's context is cancelled.
	Delay time.Duration
	// BodyBytes is the response body size. 0 means the body is just the
	// name line "<Name>\n"; otherwise it is the name line followed by filler
	// up to exactly BodyBytes (cut short when the name line is longer).
	BodyBytes int
	// FailEvery makes every FailEvery-th request answer FailStatus instead
	// of Status; requests are counted from 1, across all goroutines, and
	// health probes are not counted. 0 never fails.
	FailEvery int
	// FailStatus is the status of a failing answer; 0 means 503.
	FailStatus int
	// HealthStatus is the status of GET /health; 0 means 200.
	HealthStatus int
}

// Validate reports every field of o that Handler would refuse, joined into
// one error, or nil when o is usable.
func (o Options) Validate() error {
	var errs []error
	for _, s := range []struct {
		name  string
		value int
	}{{"status", o.Status}, {"fail status", o.FailStatus}, {"health status", o.HealthStatus}} {
		if s.value != 0 && !validStatus(s.value) {
			errs = append(errs, fmt.Errorf("%s %d: want 200..599", s.name, s.value))
		}
	}
	if o.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %v: want >= 0", o.Delay))
	}
	if o.BodyBytes < 0 {
		errs = append(errs, fmt.Errorf("body bytes %d: want >= 0", o.BodyBytes))
	}
	if o.FailEvery < 0 {
		errs = append(errs, fmt.Errorf("fail every %d: want >= 0", o.FailEvery))
	}
	return errors.Join(errs...)
}

// Handler returns the fake backend described by o. The handler is safe for
// concurrent use; its only shared state is the FailEvery request count.
// Handler panics if o.Validate fails: options are the caller's code, not input.
func Handler(o Options) http.Handler {
	if err := o.Validate(); err != nil {
		panic("fakebackend.Handler: " + err.Error())
	}
	if o.Status == 0 {
		o.Status = http.StatusOK
	}
	if o.FailStatus == 0 {
		o.FailStatus = http.StatusServiceUnavailable
	}
	if o.HealthStatus == 0 {
		o.HealthStatus = http.StatusOK
	}
	nameLine := []byte(o.Name + "\n")
	return &handler{
		o:             o,
		nameLine:      nameLine,
		name:          []string{o.Name},
		defaultLength: []string{strconv.Itoa(bodySize(nameLine, o.BodyBytes))},
	}
}

// handler serves one fake backend. Every field but requests is written once
// by Handler and only read afterwards.
type handler struct {
	o        Options
	nameLine []byte
	// name and defaultLength are header values shared by every answer, so the
	// hot path does not allocate them. net/http only reads header values, and
	// an Add by a wrapping handler copies the slice (its capacity is 1).
	name          []string
	defaultLength []string
	// requests counts every request but GET /health, for FailEvery;
	// written by every serving goroutine.
	requests atomic.Uint64
}

// Shared header values; see handler.name for why sharing is safe.
var (
	textPlain   = []string{"text/plain"}
	zeroBytes   = []string{"0"}
	emptySHA256 = []string{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	healthBody  = []byte("ok\n")
	healthSize  = []string{strconv.Itoa(len(healthBody))}
)

// plan is what one request will get: the options, the fail turn and the
// query knobs resolved. It lives on the stack of ServeHTTP.
type plan struct {
	status    int
	delay     time.Duration
	bodyBytes int
	echo      bool
	chunks    int
	interval  time.Duration
}

// ServeHTTP answers one request; see the package comment for what it sends.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/health" {
		h.health(w, r)
		return
	}
	p := plan{status: h.o.Status, delay: h.o.Delay, bodyBytes: h.o.BodyBytes}
	n := h.requests.Add(1)
	if h.o.FailEvery > 0 && n%uint64(h.o.FailEvery) == 0 {
		p.status = h.o.FailStatus
	}
	if r.URL.RawQuery != "" {
		if err := p.applyQuery(r); err != nil {
			badKnob(w, err)
			return
		}
	}

	header := w.Header()
	if p.echo {
		echoHeaders(header, r)
	}
	size, sum, err := readBody(r.Body)
	if err != nil {
		// The client or the proxy broke the body off; the answer is likely
		// never read, but a status makes the failure visible if it is.
		http.Error(w, "read request body failed", http.StatusBadRequest)
		return
	}
	if !wait(r, p.delay) {
		return
	}

	header["X-Backend"] = h.name
	header["X-Seen-Path"] = []string{r.URL.RequestURI()}
	header["X-Seen-Host"] = []string{r.Host}
	header["Content-Type"] = textPlain
	if size == 0 {
		header["X-Request-Bytes"] = zeroBytes
		header["X-Request-Sha256"] = emptySHA256
	} else {
		header["X-Request-Bytes"] = []string{strconv.FormatInt(size, 10)}
		header["X-Request-Sha256"] = []string{sum}
	}

	if p.chunks > 0 {
		w.WriteHeader(p.status)
		if bodyAllowed(r, p.status) {
			writeChunks(w, r, h.nameLine, p.chunks, p.interval)
		}
		return
	}
	if !statusAllowsBody(p.status) {
		w.WriteHeader(p.status)
		return
	}
	if p.bodyBytes == h.o.BodyBytes {
		header["Content-Length"] = h.defaultLength
	} else {
		header["Content-Length"] = []string{strconv.Itoa(bodySize(h.nameLine, p.bodyBytes))}
	}
	w.WriteHeader(p.status)
	if bodyAllowed(r, p.status) {
		writeBody(w, h.nameLine, p.bodyBytes)
	}
}

// health answers GET /health. It honours the status and delay knobs, so a
// probe endpoint such as "/health?delay=5s" can test probe timeouts.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	p := plan{status: h.o.HealthStatus}
	if r.URL.RawQuery != "" {
		if err := p.applyQuery(r); err != nil {
			badKnob(w, err)
			return
		}
	}
	if !wait(r, p.delay) {
		return
	}
	header := w.Header()
	header["X-Backend"] = h.name
	header["Content-Type"] = textPlain
	if !statusAllowsBody(p.status) {
		w.WriteHeader(p.status)
		return
	}
	header["Content-Length"] = healthSize
	w.WriteHeader(p.status)
	w.Write(healthBody)
}

func validStatus(n int) bool { return n >= 200 && n <= 599 }

// statusAllowsBody reports whether HTTP lets an answer with this status have
// a body (and so a Content-Length).
func statusAllowsBody(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// bodyAllowed reports whether body bytes should be written for r.
func bodyAllowed(r *http.Request, status int) bool {
	return r.Method != http.MethodHead && statusAllowsBody(status)
}
