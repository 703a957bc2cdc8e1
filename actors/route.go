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
// and how many requests each has in flight; it publishes both, and its retry
// load, in a RouteView that anyone may read without asking. Its backend list
// is fixed for its lifetime: a reload that changes the list starts a new
// Route.
type Route struct {
	prefix    string
	backends  []*Backend
	balancing proxyconf.Balancing
	weights   []int
	joined    []time.Time // per backend: when a reload added it to this route; zero otherwise

	// Each kind of message has its own mailbox; a sender puts its message
	// in, then rings bell, a doorbell of one slot that stays rung until the
	// actor wakes. The actor waits on the bell and done only, then empties
	// the mailboxes: a wait on two channels rather than one on every
	// mailbox, which a request's pick and its release each paid for.
	bell chan struct{}
	// picks: askers wait under their request's context while it is full.
	picks chan messages.PickRequest
	// releases are never dropped: senders wait until there is room or the
	// actor is retired, so in-flight counts stay exact. The wait is bounded
	// all the same: the actor takes a release first in every round,
	// comes back within its restart backoff (at most a second) after a
	// panic, and past the restart intensity the process exits.
	releases chan messages.Release
	// rotations come from backend actors, which wait under their context.
	rotations chan messages.Rotation
	// ejects come from backend actors, which wait under their context
	// while it is full.
	ejects chan messages.EjectAsk
	// retryAsks: askers wait under their request's context while it is full.
	retryAsks chan messages.RetryAsk

	settings   atomic.Pointer[RouteSettings] // written by SetSettings's caller
	done       chan struct{}
	retireOnce sync.Once
	view       RouteView // written only by the actor's goroutine

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

// RouteView is what a route actor publishes for readers such as
// /health/backends and tests: per backend, whether it is in rotation and its
// attempts in flight; and the route's retry load. Only the actor writes it,
// each value right after it changed; readers get each value as of the last
// message the actor handled, and never wait on the actor.
type RouteView struct {
	in       []atomic.Bool
	inflight []atomic.Int64
	retries  atomic.Int64
	retrying atomic.Int64
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

// Mailbox sizes of a route actor. They are kept small, as a large config
// has thousands of route actors: pickers and releasers wait briefly when
// one fills.
const (
	pickMailbox     = 16
	releaseMailbox  = 16
	rotationMailbox = 2
)

// NewRoute makes the route actor for rc's prefix over backends (in
// rc.Backends order, which gives their weights). joined, when not nil, gives
// per backend the time a reload added it to this route, from which slow
// start ramps its share here. Run starts it.
func NewRoute(rc *proxyconf.Route, backends []*Backend, joined []time.Time) *Route {
	n := len(backends)
	r := &Route{
		prefix:    rc.PathPrefix,
		backends:  backends,
		balancing: rc.Balancing,
		weights:   make([]int, n),
		joined:    make([]time.Time, n),
		bell:      make(chan struct{}, 1),
		picks:     make(chan messages.PickRequest, pickMailbox),
		releases:  make(chan messages.Release, releaseMailbox),
		rotations: make(chan messages.Rotation, rotationMailbox),
		ejects:    make(chan messages.EjectAsk, 1),
		retryAsks: make(chan messages.RetryAsk, rotationMailbox),
		done:      make(chan struct{}),
		view:      RouteView{in: make([]atomic.Bool, n), inflight: make([]atomic.Int64, n)},
	}
	copy(r.joined, joined)
	for i, b := range backends {
		// Published from the start, as Run will find it.
		r.view.in[i].Store(b.Snapshot().InRotation())
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

// Inflight returns the number of attempts in flight per backend, in config
// order, as last published. It never waits.
func (r *Route) Inflight() []int {
	out := make([]int, len(r.view.inflight))
	for i := range out {
		out[i] = int(r.view.inflight[i].Load())
	}
	return out
}

// InRotation reports, per backend in config order, whether the route picks
// it now. It is the route's own view: a backend's snapshot changes a moment
// before its route hears of it. It never waits.
func (r *Route) InRotation() []bool {
	out := make([]bool, len(r.view.in))
	for i := range out {
		out[i] = r.view.in[i].Load()
	}
	return out
}

// RetryLoad returns the retry tokens the route has granted and not had back,
// and the attempts picked under them still in flight. It never waits.
func (r *Route) RetryLoad() (tokens, retrying int) {
	return int(r.view.retries.Load()), int(r.view.retrying.Load())
}

// Pick asks for a backend, avoiding index avoid (-1 for none) when another is
// in rotation; retry marks a pick made under a retry token. reply must have
// capacity 1 and hold nothing. The caller may keep it for its next pick
// (one per client connection, say) unless Pick returned ErrRetired: a
// retired actor may still answer into it later, so it must then be dropped.
// Pick waits under ctx only until the request is handed over; after that
// the answer comes within the actor's next turn, even if the client leaves,
// so a granted pick is never lost without its Release. ok is false when no
// backend is in rotation. A picked index must be given back with Release.
func (r *Route) Pick(ctx context.Context, reply chan messages.PickReply, avoid int, hash uint64, hasHash, retry bool) (index int, ok bool, err error) {
	req := messages.PickRequest{Avoid: avoid, Hash: hash, HasHash: hasHash, Retry: retry, Reply: reply}
	select {
	case r.picks <- req: // room in the mailbox: the usual case, and the cheap one
	default:
		select {
		case r.picks <- req:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-r.done:
			return 0, false, ErrRetired
		}
	}
	r.ring()
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
	default:
		select {
		case r.releases <- m:
		case <-r.done:
			return
		}
	}
	r.ring()
}

// ring tells the actor a message is waiting. A bell already rung needs no
// second ring: the actor empties every mailbox each time it wakes.
func (r *Route) ring() {
	select {
	case r.bell <- struct{}{}:
	default:
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
	select {
	case r.retryAsks <- messages.RetryAsk{Reply: reply}:
	case <-ctx.Done():
		return false
	case <-r.done:
		return false
	}
	r.ring()
	select {
	case ok := <-reply:
		return ok
	case <-r.done:
		return false
	}
}

// rotation tells the actor whether backend m.Index is in rotation, waiting
// under ctx; it returns at once when the actor is retired.
func (r *Route) rotation(ctx context.Context, m messages.Rotation) {
	select {
	case r.rotations <- m:
		r.ring()
	case <-ctx.Done():
	case <-r.done:
	}
}

// askEject asks whether backend index may leave rotation on passive
// evidence, waiting under ctx. A retired route has no objection; a route
// that cannot be asked in time refuses.
func (r *Route) askEject(ctx context.Context, index int) bool {
	reply := make(chan bool, 1)
	select {
	case r.ejects <- messages.EjectAsk{Index: index, Reply: reply}:
	case <-ctx.Done():
		return false
	case <-r.done:
		return true
	}
	r.ring()
	select {
	case ok := <-reply:
		return ok
	case <-ctx.Done():
		return false
	case <-r.done:
		return true
	}
}

// Run is the actor loop. On (re)start it takes rotation from the backends'
// published snapshots; their Rotation messages keep it current.
//
// Run, loop and their callees are laid out for a small stack: a config
// with ten thousand routes runs ten thousand of these goroutines, idle in
// loop's select, and each byte of their deepest frame chain counts that
// many times. The handlers stay out of line.
func (r *Route) Run(ctx context.Context) error {
	st := r.begin()
	defer r.end(st)
	// Stopped for good: askers still queued get ErrRetired rather than
	// wait for an answer that will not come. (The actor itself then waits
	// on two channels, not three.) Run returns only once that is done, so
	// no goroutine of the actor outlives it.
	retired := make(chan struct{})
	unhook := context.AfterFunc(ctx, func() { r.Retire(); close(retired) })
	defer func() {
		if !unhook() {
			<-retired
		}
	}()
	return r.loop(st)
}

// begin builds the actor's state, taking back the counts an earlier run
// left.
//
//go:noinline
func (r *Route) begin() *routeState {
	st := newRouteState(r)
	if c := r.counts; c != nil {
		copy(st.inflight, c.inflight)
		for _, n := range st.inflight {
			st.total += n
		}
		st.retries, st.retrying = c.retries, c.retrying
	}
	st.publishAll()
	return st
}

// end keeps the counts for the next run, and answers a pick or question
// being handled when a panic unwound (a refusal), so its asker is not left
// waiting. Replies are buffered, so this never blocks.
func (r *Route) end(st *routeState) {
	r.counts = &routeCounts{inflight: st.inflight, retries: st.retries, retrying: st.retrying}
	if st.pendingPick != nil {
		st.pendingPick <- messages.PickReply{}
	}
	if st.pendingAsk != nil {
		st.pendingAsk <- false
	}
}

//go:noinline
func (r *Route) loop(st *routeState) error {
	for {
		if !r.handleAll(st) {
			return nil
		}
		select {
		case <-r.bell:
		case <-r.done:
			return nil
		}
	}
}

// handleAll empties the mailboxes, taking at most one message of each kind
// per round (releases first), so a steady stream of one kind cannot hold up
// the others. It returns false once the actor is retired.
//
//go:noinline
func (r *Route) handleAll(st *routeState) bool {
	for {
		select {
		case <-r.done:
			return false
		default:
		}
		got := false
		select {
		case rel := <-r.releases:
			st.release(rel)
			got = true
		default:
		}
		select {
		case req := <-r.picks:
			r.answerPick(st, req)
			got = true
		default:
		}
		select {
		case m := <-r.rotations:
			st.setIn(m.Index, m.In, m.Since)
			got = true
		default:
		}
		select {
		case m := <-r.ejects:
			r.answerEject(st, m)
			got = true
		default:
		}
		select {
		case m := <-r.retryAsks:
			r.answerRetry(st, m)
			got = true
		default:
		}
		if !got {
			return true
		}
	}
}

//go:noinline
func (r *Route) answerPick(st *routeState, req messages.PickRequest) {
	st.pendingPick = req.Reply
	req.Reply <- st.pick(req, r.settings.Load())
	st.pendingPick = nil
}

//go:noinline
func (r *Route) answerEject(st *routeState, m messages.EjectAsk) {
	st.pendingAsk = m.Reply
	m.Reply <- st.mayEject(m.Index, r.settings.Load().MaxEjectedPercent)
	st.pendingAsk = nil
}

//go:noinline
func (r *Route) answerRetry(st *routeState, m messages.RetryAsk) {
	st.pendingAsk = m.Reply
	m.Reply <- st.mayRetry(r.settings.Load())
	st.pendingAsk = nil
}
