package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

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

	// picks: askers wait under their request's context when it is full.
	picks chan messages.PickRequest
	// releases are never dropped: senders wait until there is room or the
	// actor is retired, so in-flight counts stay exact.
	releases chan messages.Release
	// control carries rotation changes, ejection questions and queries;
	// senders wait under their context.
	control chan any

	maxOutPercent atomic.Int32 // written by SetMaxEjectedPercent's caller
	done          chan struct{}
	retireOnce    sync.Once
}

type inflightQuery struct{ reply chan []int }

type ejectAsk struct {
	messages.EjectAsk
}

// NewRoute makes the route actor for prefix over backends (in config order).
// Run starts it.
func NewRoute(prefix string, balancing proxyconf.Balancing, maxEjectedPercent int, backends []*Backend) *Route {
	r := &Route{
		prefix:    prefix,
		backends:  backends,
		balancing: balancing,
		picks:     make(chan messages.PickRequest, 1024),
		releases:  make(chan messages.Release, 4096),
		control:   make(chan any, 64),
		done:      make(chan struct{}),
	}
	r.maxOutPercent.Store(int32(maxEjectedPercent))
	return r
}

// Name identifies the actor in supervisor logs.
func (r *Route) Name() string { return "route " + r.prefix }

// Prefix is the route's path_prefix.
func (r *Route) Prefix() string { return r.prefix }

// Backends returns the route's backend actors in config order. The slice is
// shared and must not be modified.
func (r *Route) Backends() []*Backend { return r.backends }

// SetMaxEjectedPercent changes the passive-ejection cap for later questions.
func (r *Route) SetMaxEjectedPercent(p int) { r.maxOutPercent.Store(int32(p)) }

// Retire stops the actor taking requests for good; askers still waiting are
// answered with ErrRetired. Safe to call more than once.
func (r *Route) Retire() { r.retireOnce.Do(func() { close(r.done) }) }

// Pick asks for a backend, avoiding index avoid (-1 for none) when another is
// in rotation. It waits under ctx only until the request is handed over;
// after that the answer comes within the actor's next turn. ok is false when
// no backend is in rotation. A picked index must be given back with Release.
func (r *Route) Pick(ctx context.Context, avoid int, hash uint64, hasHash bool) (index int, ok bool, err error) {
	reply := make(chan messages.PickReply, 1)
	req := messages.PickRequest{Avoid: avoid, Hash: hash, HasHash: hasHash, Reply: reply}
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
func (r *Route) Release(index int) {
	select {
	case r.releases <- messages.Release{Index: index}:
	case <-r.done:
	}
}

// Inflight returns the number of attempts in flight per backend, in config
// order, or nil when ctx ends first.
func (r *Route) Inflight(ctx context.Context) []int {
	reply := make(chan []int, 1)
	if !r.send(ctx, inflightQuery{reply: reply}) {
		return nil
	}
	select {
	case v := <-reply:
		return v
	case <-ctx.Done():
		return nil
	case <-r.done:
		return nil
	}
}

func (r *Route) rotation(ctx context.Context, m messages.Rotation) {
	r.send(ctx, m)
}

func (r *Route) askEject(ctx context.Context, index int) bool {
	reply := make(chan bool, 1)
	if !r.send(ctx, ejectAsk{messages.EjectAsk{Index: index, Reply: reply}}) {
		return false
	}
	select {
	case ok := <-reply:
		return ok
	case <-ctx.Done():
		return false
	case <-r.done:
		return false
	}
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
	// A pick being handled when a panic unwinds still gets an answer, so its
	// asker is not left waiting.
	var pending chan messages.PickReply
	defer func() {
		if pending != nil {
			pending <- messages.PickReply{}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.done:
			return nil
		case req := <-r.picks:
			pending = req.Reply
			req.Reply <- st.pick(req)
			pending = nil
		case rel := <-r.releases:
			st.release(rel.Index)
		case c := <-r.control:
			r.handleControl(st, c)
		}
	}
}

func (r *Route) handleControl(st *routeState, c any) {
	switch m := c.(type) {
	case messages.Rotation:
		st.setIn(m.Index, m.In)
	case ejectAsk:
		m.Reply <- st.mayEject(m.Index, int(r.maxOutPercent.Load()))
	case inflightQuery:
		m.reply <- append([]int(nil), st.inflight...)
	}
}
