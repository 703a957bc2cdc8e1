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
	key := cc.hashKey(t, rt)
	r.body.configure(rt, t.cfg.Server.ClientBodyMinRate)
	if upgrade != nil {
		cc.upgrade(key)
		return
	}
	cc.forward(key)
}

// attempt is one try of a request at one backend, the step forward and
// upgrade share: pick a backend from the route's actor (following the
// route to the table in force when a reload retired the actor), build the
// head for that backend, and exchange it on a pooled connection.
type attempt struct {
	cc    *clientConn
	rt    *route
	idx   int // the backend picked
	n     int // 1 for the first attempt
	avoid int // a backend to pass over when another is in rotation; -1 for none
}

// pick asks the route's actor for a backend. When a reload retired the
// actor after this request read the table, it carries on with the route
// as it is now; retired is then called first (forward gives back a retry
// token the old actor granted, so the new actor's budget never counts a
// retry whose token it did not grant). ok is false when no backend is in
// rotation (or the route is gone).
func (at *attempt) pick(key hashKey, retry bool, retired func()) (ok bool, err error) {
	cc := at.cc
	for {
		at.idx, ok, err = at.rt.actor.Pick(cc.ctx, cc.reply, at.avoid, key.hash, key.ok, retry)
		if !errors.Is(err, actors.ErrRetired) {
			return ok, err
		}
		cc.reply = make(chan messages.PickReply, 1) // the retired actor may still answer into the old one
		next := cc.p.table.Load().route(at.rt.conf.PathPrefix)
		if next == nil || next == at.rt {
			return false, err
		}
		if retired != nil {
			retired()
		}
		at.rt, at.avoid, retry = next, -1, false
	}
}

// send makes the attempt: the head for the picked backend, the body (or
// replay), and the answer's head read. It returns the connection holding
// the answer.
func (at *attempt) send(ur *upRequest, length int64, canResend bool) (*pconn, error) {
	r := &at.cc.r
	r.unreported, r.unreportedIdx = at.rt, at.idx
	b := at.rt.backends[at.idx]
	r.backend, r.attempts, r.attemptStart = b, at.n, time.Now()
	ur.head = at.cc.attemptHead(at.rt, b, length)
	return b.pool.roundTrip(at.cc, ur, canResend)
}

// forward sends the request to the route's backends, retrying as the
// route's [retry] allows, and streams the answer back.
func (cc *clientConn) forward(key hashKey) {
	r := &cc.r
	if r.body.length > r.route.conf.Upstream.MaxRequestBodyBytes {
		cc.fail(failure{kind: KindRequestTooLarge, status: http.StatusRequestEntityTooLarge, client: true})
		return
	}
	replay, ok := cc.keepForReplay()
	if !ok {
		return
	}
	a := retries{cc: cc, deadline: time.Now().Add(r.route.conf.Retry.TotalTimeout), replayable: replay != nil}
	defer a.giveBack()
	var last lastWord
	for at := (attempt{cc: cc, rt: r.route, n: 1, avoid: -1}); ; at.n++ {
		ok, err := at.pick(key, a.token != nil, a.giveBack)
		a.picked = a.picked || (a.token != nil && err == nil && ok)
		if err != nil || !ok {
			cc.finishWith(last.orNoBackend(cc))
			return
		}
		pc, err := at.send(cc.upRequest(replay, &a), cc.bodyLength(replay), a.canResend())
		a.giveBack()
		switch {
		case err == nil && !a.retriesAnswer(&at, pc):
			cc.stream(at.rt, at.idx, pc)
			return
		case err == nil:
			last = cc.holdAnswer(&at, pc)
		default:
			f := classify(err, cc.wait.gone.Load())
			last = lastWord{fail: f, held: last.held, reason: f.reason}
			cc.charge(at.rt, at.idx, last.fail)
			if !a.allowed(at.rt, at.n, last.fail) {
				cc.finishWith(last)
				return
			}
		}
		cc.p.retryLog(cc, at.rt, at.rt.backends[at.idx], at.n, last.reason)
		if !a.wait(at.n) {
			cc.finishWith(last)
			return
		}
		at.avoid = at.idx
	}
}

// keepForReplay reads a small idempotent body whole, so another attempt
// can send it again; nil when the body streams (or there is none). false
// means the client failed it and has its answer.
func (cc *clientConn) keepForReplay() ([]byte, bool) {
	r := &cc.r
	retry := &r.route.conf.Retry
	if r.body.length <= 0 || !r.idem || retry.MaxAttempts <= 1 || r.body.length > retry.MaxBufferedBodyBytes {
		return nil, true
	}
	b, err := r.body.readAll(r.body.length)
	if err != nil {
		cc.fail(classifyBody(err))
		return nil, false
	}
	return b, true
}

// upRequest is what an attempt sends: the kept body, else the body
// streamed from the client, else none.
func (cc *clientConn) upRequest(replay []byte, a *retries) *upRequest {
	r := &cc.r
	ur := &cc.upr
	*ur = upRequest{isHead: r.head, deadline: a.deadline, total: r.route.conf.Retry.TotalTimeout}
	switch {
	case replay != nil:
		ur.body, ur.length, ur.replay = bytesReader(replay), int64(len(replay)), replay
	case r.body.present():
		ur.body, ur.length = &r.body, r.body.length
	}
	return ur
}

// bodyLength is the framing an attempt announces: the kept body's length,
// the client's (-1 for chunked), or 0 for none.
func (cc *clientConn) bodyLength(replay []byte) int64 {
	if replay != nil {
		return int64(len(replay))
	}
	return cc.r.body.length
}

// lastWord is what the client gets when attempts run out: the last real
// upstream answer when one was kept, else the last failure; reason is the
// retry reason of the attempt that made it.
type lastWord struct {
	held   *heldResponse
	fail   failure
	reason string
}

// orNoBackend is the last word when no attempt could be made (anymore):
// the client left, or an earlier answer or failure stands, or no backend
// is in rotation (or a reload removed the route on the way).
func (w lastWord) orNoBackend(cc *clientConn) lastWord {
	switch {
	case cc.wait.gone.Load() || cc.ctx.Err() != nil:
		return lastWord{fail: failure{kind: KindClientDisconnect, status: 499, client: true}}
	case w.held != nil || w.fail.kind != "":
		return w
	}
	return lastWord{fail: failure{kind: KindNoHealthyBackend, status: http.StatusServiceUnavailable}}
}

// retriesAnswer reports whether the answer on pc is one the route retries
// on (retry_on_status, small enough to keep) and a retry may follow; the
// retry token is then held.
func (a *retries) retriesAnswer(at *attempt, pc *pconn) bool {
	resp := &pc.resp
	return at.rt.conf.Retry.RetriesStatus(resp.Status) && resp.ContentLength <= lastResponseLimit &&
		a.allowed(at.rt, at.n, failure{reason: ReasonStatus})
}

// holdAnswer keeps an answer a retry will follow, so the client can still
// get it when the retry fails too.
func (cc *clientConn) holdAnswer(at *attempt, pc *pconn) lastWord {
	status := pc.resp.Status
	h, complete := hold(pc)
	cc.report(at.rt, at.idx, false, status, "")
	if !complete {
		return lastWord{fail: failure{kind: KindUpstreamReset, status: http.StatusBadGateway}, reason: ReasonStatus}
	}
	return lastWord{held: h, reason: ReasonStatus}
}

// finishWith answers after the last attempt: the last real upstream answer
// when one was kept, the failure's own status otherwise.
func (cc *clientConn) finishWith(w lastWord) {
	if w.held == nil {
		cc.fail(w.fail)
		return
	}
	cc.sendHeld(w.held)
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
