package proxy

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"ferrum/actors"
	"ferrum/messages"
)

// proxy forwards a request that matched r.route: a protocol upgrade to a
// tunnel, anything else through forward.
func (cc *clientConn) proxy(t *Table) {
	r, req := &cc.r, &cc.req
	rt := r.route
	var upgrade []byte
	if req.ConnUpgrade && len(req.Upgrade) > 0 && !r.body.present() {
		// A request with a body is not turned into a tunnel (curl asks
		// for h2c on every plain-http request, POSTs included); its
		// Upgrade is dropped like any hop-by-hop field.
		upgrade = req.Upgrade
	}
	cc.buildUpstreamHead(t, rt, upgrade)
	hash, hasHash := cc.hashKey(t, rt)
	r.body.configure(rt, t.cfg.Server.ClientBodyMinRate)
	if upgrade != nil {
		cc.upgrade(hash, hasHash)
		return
	}
	cc.forward(hash, hasHash)
}

// forward sends the request to the route's backends, retrying as the
// route's [retry] allows, and streams the answer back.
func (cc *clientConn) forward(hash uint64, hasHash bool) {
	r := &cc.r
	rt := r.route
	if r.body.length > rt.conf.Upstream.MaxRequestBodyBytes {
		cc.fail(failure{kind: KindRequestTooLarge, status: http.StatusRequestEntityTooLarge, client: true})
		return
	}
	retry := &rt.conf.Retry
	var replay []byte // the whole body kept for another attempt; nil when streamed or empty
	if r.body.length > 0 && r.idem && retry.MaxAttempts > 1 && r.body.length <= retry.MaxBufferedBodyBytes {
		b, err := r.body.readAll(r.body.length)
		if err != nil {
			cc.fail(classifyBody(err))
			return
		}
		replay = b
	}
	a := retries{cc: cc, deadline: time.Now().Add(retry.TotalTimeout), replayable: replay != nil}
	defer a.giveBack()
	var held *heldResponse
	var last failure
	avoid := -1
	for attempt := 1; ; attempt++ {
		at, ok, err := cc.pick(rt, avoid, hash, hasHash, a.token != nil)
		a.picked = a.picked || (a.token != nil && err == nil && ok)
		if errors.Is(err, actors.ErrRetired) {
			// A reload replaced the route's actor after this request read
			// the table: carry on with the route as it is now.
			if next := cc.p.table.Load().route(rt.conf.PathPrefix); next != nil && next != rt {
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
			case cc.wait.gone.Load() || cc.ctx.Err() != nil:
				last = failure{kind: KindClientDisconnect, status: 499, client: true}
			case held != nil || last.kind != "":
				// An earlier attempt's answer (or failure) stands.
			default:
				// No backend in rotation, or a reload removed the route
				// while this request was on its way.
				last = failure{kind: KindNoHealthyBackend, status: http.StatusServiceUnavailable}
			}
			cc.finishWith(held, last)
			return
		}
		pc, err := cc.try(rt, at, attempt, replay, &a)
		a.giveBack()
		if err != nil {
			f := classify(err, cc.wait.gone.Load())
			cc.charge(rt, at, f)
			last = f
			if a.allowed(rt, attempt, f) {
				cc.p.retryLog(cc, rt, rt.backends[at], attempt, f.reason)
				if a.wait(attempt) {
					avoid = at
					continue
				}
			}
			cc.finishWith(held, last)
			return
		}
		status := pc.resp.Status
		if retry.RetriesStatus(status) && pc.resp.ContentLength <= lastResponseLimit &&
			a.allowed(rt, attempt, failure{reason: ReasonStatus}) {
			h, complete := hold(pc)
			cc.report(rt, at, false, status, "")
			if complete {
				held, last = h, failure{}
			} else {
				last = failure{kind: KindUpstreamReset, status: http.StatusBadGateway}
			}
			cc.p.retryLog(cc, rt, rt.backends[at], attempt, ReasonStatus)
			if !a.wait(attempt) {
				cc.finishWith(held, last)
				return
			}
			avoid = at
			continue
		}
		cc.stream(rt, at, pc)
		return
	}
}

// try makes one attempt at backend idx of rt and returns the connection
// with the answer's head read.
func (cc *clientConn) try(rt *route, idx, attempt int, replay []byte, a *retries) (*pconn, error) {
	r := &cc.r
	r.unreported, r.unreportedIdx = rt, idx
	b := rt.backends[idx]
	r.backend, r.attempts, r.attemptStart = b, attempt, time.Now()
	ur := upRequest{isHead: r.head, deadline: a.deadline}
	var n int64
	switch {
	case replay != nil:
		ur.body, ur.length, ur.replay = bytesReader(replay), int64(len(replay)), replay
		n = ur.length
	case r.body.present():
		ur.body, ur.length = &r.body, r.body.length
		n = ur.length
	}
	ur.head = cc.attemptHead(rt, b, n)
	return b.pool.roundTrip(cc, &ur, a.canResend())
}

// pick asks the route actor for a backend on the connection's reply
// channel, which it replaces after an ErrRetired (a retired actor may
// still answer into it).
func (cc *clientConn) pick(rt *route, avoid int, hash uint64, hasHash, retry bool) (int, bool, error) {
	idx, ok, err := rt.actor.Pick(cc.ctx, cc.reply, avoid, hash, hasHash, retry)
	if errors.Is(err, actors.ErrRetired) {
		cc.reply = make(chan messages.PickReply, 1)
	}
	return idx, ok, err
}

// finishWith answers after the last attempt: the last real upstream answer
// when one was kept, the failure's own status otherwise.
func (cc *clientConn) finishWith(held *heldResponse, last failure) {
	if held == nil {
		cc.fail(last)
		return
	}
	cc.sendHeld(held)
}

// charge reports a failed attempt: to the backend actor unless ferrum
// itself ran short, when only the pick is given back and the shortage
// logged.
func (cc *clientConn) charge(rt *route, idx int, f failure) {
	if !f.local {
		cc.report(rt, idx, f.client, 0, f.kind)
		return
	}
	rt.actor.Release(idx)
	cc.r.unreported = nil
	cc.p.shortage.note(cc.p.log, f.what)
}

// report tells the backend actor how an attempt went, releases the pick and
// counts the attempt.
func (cc *clientConn) report(rt *route, idx int, clientFault bool, status int, kind string) {
	r := &cc.r
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
	r.unreported = nil
	d := time.Since(r.attemptStart)
	r.upstream += d
	b.metrics.attempt(o.Class, d.Seconds())
}

// releaseUnreported gives back a pick that was never reported, which only a
// panic between pick and report can leave behind: the route's count of
// attempts in flight would otherwise stay one too high for good.
func (r *request) releaseUnreported() {
	if r.unreported != nil {
		r.unreported.actor.Release(r.unreportedIdx)
		r.unreported = nil
	}
}

// retries decides on retries for one client request and holds its retry
// token while a retry is under way.
type retries struct {
	cc         *clientConn
	deadline   time.Time // total_timeout
	replayable bool
	token      *route // route whose retry token is held, nil for none
	picked     bool   // a retry attempt was picked under the token
}

// allowed reports whether another attempt may follow one that failed with
// f, and takes a token from the route's retry budget when it may.
func (a *retries) allowed(rt *route, attempt int, f failure) bool {
	rp := &rt.conf.Retry
	r := &a.cc.r
	if f.client || f.local || f.reason == "" || attempt >= rp.MaxAttempts || a.cc.ctx.Err() != nil {
		return false
	}
	bodyIntact := !r.body.present() || a.replayable || r.body.n == 0 && r.body.err == nil
	if !bodyIntact || (f.reason != ReasonConnect && !r.idem) {
		return false
	}
	if time.Until(a.deadline) <= rp.Backoff/2 {
		return false
	}
	if !rt.actor.MayRetry(a.cc.ctx) {
		rt.metrics.skipped()
		return false
	}
	a.token = rt
	return true
}

// wait sleeps the backoff before attempt+1; false when time ran out first
// or the client left.
func (a *retries) wait(attempt int) bool {
	d := backoff(a.token.conf.Retry.Backoff, attempt)
	if time.Until(a.deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.cc.ctx.Done():
		return false
	}
}

// canResend reports whether a request that got nothing back from a reused
// keep-alive connection may go out again on a new one: only an idempotent
// request whose body, if any, is kept whole.
func (a *retries) canResend() bool {
	r := &a.cc.r
	return r.idem && (!r.body.present() || a.replayable)
}

// giveBack returns the retry token, if one is held.
func (a *retries) giveBack() {
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
