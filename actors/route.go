package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
)

// ErrRetired is returned to askers of a route actor that has been retired by a
// reload or shutdown.
var ErrRetired = errors.New("route actor retired")

// Route is the actor that chooses among one route's backends. It alone knows
// which of them are in rotation (its backend actors tell it of each change)
// and how many requests each has in flight. Its backend list is fixed for its
// lifetime: a reload that changes the list starts a new Route.
type Route struct {
	prefix    string
	backends  []*Backend
	balancing proxyconf.Balancing
	weights   []int

	// picks: askers wait under their request's context when it is full.
	picks chan messages.PickRequest
	// releases are never dropped: senders wait until there is room or the
	// actor is retired, so in-flight counts stay exact. The wait is bounded
	// all the same: the actor takes a release between any two messages,
	// comes back within its restart backoff (at most a second) after a
	// panic, and past the restart intensity the process exits.
	releases chan messages.Release
	// control carries rotation changes, ejection questions and queries;
	// senders wait under their context.
	control chan any

	settings   atomic.Pointer[RouteSettings] // written by SetSettings's caller
	done       chan struct{}
	retireOnce sync.Once

	// counts carries the attempts and retry tokens still out from one run
	// of the actor to the next, so a restart after a panic does not forget
	// them (their releases are still to come). Only the actor's goroutine
	// touches it; runs never overlap.
	counts *routeCounts
}

// routeCounts are the parts of a route actor's state that only its own
// messages can rebuild: rotation comes back from the backends' snapshots,
// these do not.
type routeCounts struct {
	inflight []int
	retries  int
	retrying int
}

type inflightQuery struct{ reply chan []int }

type rotationQuery struct{ reply chan []bool }

type budgetQuery struct{ reply chan [2]int }

type retryAsk struct{ reply chan bool }

type ejectAsk struct {
	messages.EjectAsk
}

// RouteSettings are the route settings a reload may change without a new
// route actor.
type RouteSettings struct {
	MaxEjectedPercent   int
	SlowStart           time.Duration
	BudgetPercent       int
	MinRetryConcurrency int
}

// SettingsOf extracts a route's RouteSettings from its config.
func SettingsOf(rc *proxyconf.Route) RouteSettings {
	return RouteSettings{
		MaxEjectedPercent:   rc.Health.MaxEjectedPercent,
		SlowStart:           rc.Health.SlowStart,
		BudgetPercent:       rc.Retry.BudgetPercent,
		MinRetryConcurrency: rc.Retry.MinRetryConcurrency,
	}
}

// NewRoute makes the route actor for rc's prefix over backends (in
// rc.Backends order, which gives their weights). Run starts it.
func NewRoute(rc *proxyconf.Route, backends []*Backend) *Route {
	r := &Route{
		prefix:    rc.PathPrefix,
		backends:  backends,
		balancing: rc.Balancing,
		weights:   make([]int, len(backends)),
		picks:     make(chan messages.PickRequest, 128),
		releases:  make(chan messages.Release, 256),
		control:   make(chan any, 64),
		done:      make(chan struct{}),
	}
	for i := range r.weights {
		r.weights[i] = 1
		if i < len(rc.Backends) {
			r.weights[i] = rc.Backends[i].Weight
		}
	}
	r.SetSettings(SettingsOf(rc))
	return r
}

// Name identifies the actor in supervisor logs.
func (r *Route) Name() string { return "route " + r.prefix }

// Prefix is the route's path_prefix.
func (r *Route) Prefix() string { return r.prefix }

// Backends returns the route's backend actors in config order. The slice is
// shared and must not be modified.
func (r *Route) Backends() []*Backend { return r.backends }

// SetSettings changes the settings later picks and questions use.
func (r *Route) SetSettings(s RouteSettings) { r.settings.Store(&s) }

// Retire stops the actor taking requests for good; askers still waiting are
// answered with ErrRetired. Safe to call more than once.
func (r *Route) Retire() { r.retireOnce.Do(func() { close(r.done) }) }

// Pick asks for a backend, avoiding index avoid (-1 for none) when another is
// in rotation; retry marks a pick made under a retry token. It waits under ctx only until the request is handed over;
// after that the answer comes within the actor's next turn. ok is false when
// no backend is in rotation. A picked index must be given back with Release.
func (r *Route) Pick(ctx context.Context, avoid int, hash uint64, hasHash, retry bool) (index int, ok bool, err error) {
	reply := make(chan messages.PickReply, 1)
	req := messages.PickRequest{Avoid: avoid, Hash: hash, HasHash: hasHash, Retry: retry, Reply: reply}
	select {
	case r.picks <- req:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	case <-r.done:
		return 0, false, ErrRetired
	}
	// Once handed over, wait for the answer even if the client leaves, so a
	// granted pick is never lost without its Release.
	select {
	case rep := <-reply:
		return rep.Index, rep.OK, nil
	case <-r.done:
		return 0, false, ErrRetired
	}
}

// Release gives back a pick once its attempt is over. It waits only when the
// mailbox is full, and returns at once after the actor is retired.
func (r *Route) Release(index int) { r.release(messages.Release{Index: index}) }

// ReleaseRetry gives back a retry token granted by MayRetry once the retry
// attempt it allowed has its answer, or was not made after all (picked false).
func (r *Route) ReleaseRetry(picked bool) {
	r.release(messages.Release{Index: -1, Token: true, Picked: picked})
}

func (r *Route) release(m messages.Release) {
	select {
	case r.releases <- m:
	case <-r.done:
	}
}

// MayRetry asks for a retry token under the route's retry budget: retries in
// flight (tokens out, backoff included) stay at or below
// max(min_retry_concurrency, budget_percent of the route's requests in
// flight). A granted token must be given back with ReleaseRetry.
// ctx bounds the wait for room in the mailbox only: once asked, it waits
// for the answer, which even a panicking actor gives (a refusal), so a
// granted token is never lost. It returns false when the actor is retired.
func (r *Route) MayRetry(ctx context.Context) bool {
	reply := make(chan bool, 1)
	if !r.send(ctx, retryAsk{reply: reply}) {
		return false
	}
	select {
	case ok := <-reply:
		return ok
	case <-r.done:
		return false
	}
}

// Inflight returns the number of attempts in flight per backend, in config
// order, or nil when ctx ends first.
func (r *Route) Inflight(ctx context.Context) []int {
	reply := make(chan []int, 1)
	return ask(ctx, r, inflightQuery{reply: reply}, reply)
}

// InRotation reports, per backend in config order, whether the route picks
// it now. It is the route's own view: a backend's snapshot changes a moment
// before its route hears of it. nil when ctx ends first.
func (r *Route) InRotation(ctx context.Context) []bool {
	reply := make(chan []bool, 1)
	return ask(ctx, r, rotationQuery{reply: reply}, reply)
}

// RetryLoad returns the retry tokens the route has granted and not had back,
// and the attempts picked under them still in flight (zeros when ctx ends
// first).
func (r *Route) RetryLoad(ctx context.Context) (tokens, retrying int) {
	reply := make(chan [2]int, 1)
	v := ask(ctx, r, budgetQuery{reply: reply}, reply)
	return v[0], v[1]
}

// ask sends query q to r's control mailbox and waits for its answer on reply.
func ask[T any](ctx context.Context, r *Route, q any, reply chan T) T {
	var zero T
	if !r.send(ctx, q) {
		return zero
	}
	select {
	case v := <-reply:
		return v
	case <-ctx.Done():
		return zero
	case <-r.done:
		return zero
	}
}

func (r *Route) rotation(ctx context.Context, m messages.Rotation) {
	r.send(ctx, m)
}

func (r *Route) askEject(ctx context.Context, index int) bool {
	reply := make(chan bool, 1)
	return ask(ctx, r, ejectAsk{messages.EjectAsk{Index: index, Reply: reply}}, reply)
}

func (r *Route) send(ctx context.Context, m any) bool {
	select {
	case r.control <- m:
		return true
	case <-ctx.Done():
		return false
	case <-r.done:
		return false
	}
}

// Run is the actor loop. On (re)start it takes rotation from the backends'
// published snapshots; their Rotation messages keep it current.
func (r *Route) Run(ctx context.Context) (err error) {
	st := newRouteState(r)
	if c := r.counts; c != nil {
		copy(st.inflight, c.inflight)
		for _, n := range st.inflight {
			st.total += n
		}
		st.retries, st.retrying = c.retries, c.retrying
	}
	// A pick or question being handled when a panic unwinds still gets an
	// answer (a refusal), so its asker is not left waiting; the counts are
	// kept for the next run.
	var pending chan messages.PickReply
	var asked any
	defer func() {
		if pending != nil {
			pending <- messages.PickReply{}
		}
		if asked != nil {
			refuse(asked)
		}
		r.counts = &routeCounts{inflight: st.inflight, retries: st.retries, retrying: st.retrying}
	}()
	for {
		select {
		case <-ctx.Done():
			// Stopped for good: askers still queued get ErrRetired rather
			// than wait for an answer that will not come.
			r.Retire()
			return nil
		case <-r.done:
			return nil
		case req := <-r.picks:
			pending = req.Reply
			req.Reply <- st.pick(req, r.settings.Load())
			pending = nil
		case rel := <-r.releases:
			st.release(rel)
		case c := <-r.control:
			asked = c
			r.handleControl(st, c)
			asked = nil
		}
	}
}

// refuse answers a control question the actor could not finish: no
// ejection, no retry, no data. Replies are buffered, so it never blocks.
func refuse(c any) {
	switch m := c.(type) {
	case ejectAsk:
		m.Reply <- false
	case retryAsk:
		m.reply <- false
	case inflightQuery:
		m.reply <- nil
	case rotationQuery:
		m.reply <- nil
	case budgetQuery:
		m.reply <- [2]int{}
	}
}

func (r *Route) handleControl(st *routeState, c any) {
	switch m := c.(type) {
	case messages.Rotation:
		st.setIn(m.Index, m.In, m.Since)
	case ejectAsk:
		m.Reply <- st.mayEject(m.Index, r.settings.Load().MaxEjectedPercent)
	case retryAsk:
		m.reply <- st.mayRetry(r.settings.Load())
	case inflightQuery:
		m.reply <- append([]int(nil), st.inflight...)
	case rotationQuery:
		m.reply <- append([]bool(nil), st.in...)
	case budgetQuery:
		m.reply <- [2]int{st.retries, st.retrying}
	}
}
