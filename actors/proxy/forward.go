package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"ferrum/actors"
	"ferrum/messages"
)

// lastResponseLimit bounds how much of a retried response is kept so the
// client can still get it when every attempt fails.
const lastResponseLimit = 64 << 10

// heldResponse is a complete upstream answer kept while another attempt runs.
type heldResponse struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request to the route's backends, retrying as the route's
// [retry] allows, and streams the answer back. It fills ex for accounting.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, rt *route, target string, ex *exchange) {
	rc := rt.conf
	up := &rc.Upstream
	if r.ContentLength > up.MaxRequestBodyBytes {
		p.fail(w, ex, failure{kind: KindRequestTooLarge, status: http.StatusRequestEntityTooLarge, client: true})
		return
	}

	idempotent := isIdempotent(r.Method)
	retry := &rc.Retry
	var body *bodyReader
	var replay []byte // whole body kept for replay; nil when streamed or empty
	hasBody := ex.hasBody
	if hasBody {
		body = newBodyReader(w, r, rc.ClientBodyTimeout, up.MaxRequestBodyBytes)
		ex.body = body
		if idempotent && retry.MaxAttempts > 1 && r.ContentLength > 0 && r.ContentLength <= retry.MaxBufferedBodyBytes {
			b, err := body.readFull(r.ContentLength)
			if err != nil {
				p.fail(w, ex, body.failure())
				return
			}
			replay = b
		}
	}

	ctx, cancel := context.WithTimeout(r.Context(), retry.TotalTimeout)
	defer cancel()
	hash, hasHash := p.hashKey(r, rt)
	a := attempts{p: p, r: r, ctx: ctx, idempotent: idempotent, body: body, replayable: replay != nil}
	defer a.giveBack()
	var held *heldResponse
	var last failure
	avoid := -1
	reply := make(chan messages.PickReply, 1)
	for attempt := 1; ; attempt++ {
		idx, ok, err := rt.actor.Pick(ctx, reply, avoid, hash, hasHash, a.token != nil)
		a.picked = a.picked || (a.token != nil && err == nil && ok)
		if errors.Is(err, actors.ErrRetired) {
			reply = make(chan messages.PickReply, 1) // a retired actor may still answer into the old one
			// A reload replaced the route's actor after this request read
			// the table: carry on with the route as it is now.
			if next := p.table.Load().route(rt.conf.PathPrefix); next != nil && next != rt {
				// A retry token held is the old actor's; give it back
				// there, so the new actor's budget never counts a retry
				// whose token it did not grant.
				a.giveBack()
				rt, avoid = next, -1
				attempt--
				continue
			}
		}
		if err != nil || !ok {
			switch {
			case r.Context().Err() != nil:
				last = failure{kind: KindClientDisconnect, status: 499, client: true}
			case held != nil || last.kind != "":
				// An earlier attempt's answer (or failure) stands.
			case err == nil || errors.Is(err, actors.ErrRetired):
				// No backend in rotation, or a reload removed the route
				// while this request was on its way.
				last = failure{kind: KindNoHealthyBackend, status: http.StatusServiceUnavailable}
			default:
				last = failure{kind: KindUpstreamTimeout, status: http.StatusGatewayTimeout}
			}
			p.finish(w, ex, held, last)
			return
		}
		ex.unreported, ex.unreportedIdx = rt, idx
		b := rt.backends[idx]
		ex.backend = b
		ex.attempts = attempt
		ex.attemptStart = time.Now()
		ur := upstreamRequest{method: r.Method, target: target, host: r.Host, header: r.Header}
		if !rt.conf.PreserveHost || ur.host == "" {
			// An HTTP/1.0 client may send no Host; the backend
			// still gets one.
			ur.host = b.host
		}
		switch {
		case replay != nil:
			ur.body, ur.length, ur.replay = bytesReader(replay), int64(len(replay)), replay
		case hasBody:
			ur.body, ur.length = body, r.ContentLength
		}
		// total_timeout bounds the attempt until response headers; a
		// response being streamed is bounded by read_timeout pauses only.
		resp, err := b.pool.roundTrip(ctx, &ur, a.canResend)
		a.giveBack()
		if err != nil {
			f := classify(err, body, r.Context(), ctx)
			p.report(ex, rt, idx, f.client, 0, f.kind)
			last = f
			if a.allowed(rt, attempt, f.reason, f.client) {
				p.retryLog(ex, rt, b, attempt, f.reason)
				if a.wait(attempt) {
					avoid = idx
					continue
				}
			}
			p.finish(w, ex, held, last)
			return
		}
		if retry.RetriesStatus(resp.StatusCode) && resp.ContentLength <= lastResponseLimit &&
			a.allowed(rt, attempt, ReasonStatus, false) {
			h, complete := keepResponse(resp)
			p.report(ex, rt, idx, false, resp.StatusCode, "")
			if complete {
				held, last = h, failure{}
			} else {
				last = failure{kind: KindUpstreamReset, status: http.StatusBadGateway}
			}
			p.retryLog(ex, rt, b, attempt, ReasonStatus)
			if !a.wait(attempt) {
				p.finish(w, ex, held, last)
				return
			}
			avoid = idx
			continue
		}
		p.stream(w, ex, rt, idx, resp)
		return
	}
}

// attempts decides on retries for one client request and holds its retry
// token while a retry is under way.
type attempts struct {
	p          *Proxy
	r          *http.Request
	ctx        context.Context // bounded by total_timeout
	idempotent bool
	body       *bodyReader
	replayable bool
	token      *route // route whose retry token is held, nil for none
	picked     bool   // a retry attempt was picked under the token
}

// allowed reports whether another attempt may follow one that failed for
// reason, and takes a token from the route's retry budget when it may.
func (a *attempts) allowed(rt *route, attempt int, reason string, clientFault bool) bool {
	rp := &rt.conf.Retry
	if clientFault || attempt >= rp.MaxAttempts || a.ctx.Err() != nil {
		return false
	}
	bodyIntact := a.body == nil || a.replayable || a.body.n == 0
	if !bodyIntact || (reason != ReasonConnect && !a.idempotent) {
		return false
	}
	if dl, ok := a.ctx.Deadline(); ok && time.Until(dl) <= rp.Backoff/2 {
		return false
	}
	if !rt.actor.MayRetry(a.ctx) {
		if rt.metrics != nil {
			rt.metrics.skipped.Inc()
		}
		return false
	}
	a.token = rt
	return true
}

// wait sleeps the backoff before attempt+1; false when time ran out first.
func (a *attempts) wait(attempt int) bool {
	d := backoff(a.token.conf.Retry.Backoff, attempt)
	if dl, ok := a.ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.ctx.Done():
		return false
	}
}

// canResend reports whether a request that got nothing back from a reused
// keep-alive connection may go out again on a new one: only an idempotent
// request whose body, if any, is kept whole.
func (a *attempts) canResend() bool {
	return a.idempotent && (a.body == nil || a.replayable)
}

// giveBack returns the retry token, if one is held.
func (a *attempts) giveBack() {
	if a.token != nil {
		a.token.actor.ReleaseRetry(a.picked)
		a.token, a.picked = nil, false
	}
}

// backoff is the wait before attempt+1: base doubled for each attempt made,
// spread over [d/2, 3d/2) so clients retrying together do not stay together.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 10)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

// keepResponse reads a small retried response whole so it can still be the
// answer when later attempts fail; complete is false when it was too large.
func keepResponse(resp *http.Response) (*heldResponse, bool) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, lastResponseLimit+1))
	if err != nil || len(b) > lastResponseLimit {
		return nil, false
	}
	return &heldResponse{status: resp.StatusCode, header: resp.Header, body: b}, true
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// report tells the backend actor how an attempt went, releases the pick and
// counts the attempt.
func (p *Proxy) report(ex *exchange, rt *route, idx int, clientFault bool, status int, kind string) {
	o := messages.Outcome{Status: status, Kind: kind}
	switch {
	case clientFault:
		o.Class = messages.Cancelled
	case kind != "":
		o.Class = messages.Failure
	case rt.conf.Health.PassiveFailureStatus.Contains(status):
		o.Class = messages.Failure
	}
	b := rt.backends[idx]
	b.actor.Report(o)
	rt.actor.Release(idx)
	ex.unreported = nil
	if b.metrics != nil {
		b.metrics.outcomes[o.Class].Inc()
		b.metrics.duration.Observe(time.Since(ex.attemptStart).Seconds())
	}
}
