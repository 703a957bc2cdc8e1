// Package actors holds ferrum's actors: one goroutine per distinct backend
// owning that backend's health, one prober per such backend, and one route
// actor per route choosing among its backends. Each actor's mutable state
// lives in locals of its Run loop; everyone else talks to it through its
// exported methods (which send on its typed mailboxes) or reads the
// snapshot it published. The Tree (tree.go) builds, reloads and stops them.
package actors

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
)

// Transition records one health state change of a backend.
type Transition struct {
	At     time.Time
	From   messages.State
	To     messages.State
	Reason string
}

// BackendSnapshot is an immutable view of one backend's health, published by
// its actor after each change. Never mutate a published snapshot.
type BackendSnapshot struct {
	URL          string
	State        messages.State
	ConsecFails  int // consecutive failed live-traffic attempts (passive)
	ProbeFails   int // consecutive failed probes
	ConsecOKs    int // consecutive passing probes
	EjectedUntil time.Time
	Ejections    uint64    // passive ejections so far
	Streak       int       // ejections in a row, each soon after the last return
	LastReturn   time.Time // last return to healthy; zero before the first
	InSince      time.Time // when it last entered rotation; zero: in since start-up
	LastCheck    *messages.ProbeResult
	LastChange   *Transition
	// Counters for metrics: failures by source and transitions by target state.
	ActiveFailures  uint64
	PassiveFailures uint64
	TransitionsTo   [3]uint64 // indexed by messages.State
	ProbesDone      uint64
}

// InRotation reports whether the backend takes traffic.
func (s *BackendSnapshot) InRotation() bool { return s.State == messages.Healthy }

// Backend is the actor that owns one backend's health state: one per
// distinct backend URL and [health] settings, shared by every route that
// lists it. It receives live-traffic outcomes from all of those routes and
// the results of its one prober, tells each subscribed route actor when it
// enters or leaves rotation, asks them before a passive ejection, and
// publishes a BackendSnapshot after every change.
type Backend struct {
	url    string
	health proxyconf.Health // fixed for the actor's life: part of its identity
	log    *slog.Logger

	// outcomes is lossy: the request path never waits on a backend actor; a
	// full mailbox drops the outcome and counts it in dropped.
	outcomes chan messages.Outcome
	// probes waits under the prober's context: every result arrives.
	probes chan messages.ProbeResult
	// subs carries route subscriptions and leaves; senders wait under
	// their context, nothing is dropped.
	subs chan subscription

	dropped atomic.Uint64                   // written by senders of outcomes
	snap    atomic.Pointer[BackendSnapshot] // written only by Run

	firstProbe     chan struct{} // closed after the first probe result is handled
	firstProbeOnce sync.Once

	// routes are the route actors told of rotation changes and asked
	// before an ejection. Only the actor's goroutine touches it; it
	// outlives a restart (runs never overlap) because only subscription
	// messages could rebuild it.
	routes []subscription
}

// subscription connects a route actor to a backend it lists at index; leave
// undoes it.
type subscription struct {
	route *Route
	index int
	leave bool
}

// outcomeMailbox is the outcome mailbox's capacity: every route of a shared
// backend reports into it, and a full one drops.
const outcomeMailbox = 256

// NewBackend makes the actor for the backend at url with health settings h.
// Run starts it; Subscribe connects route actors to it.
func NewBackend(url string, h proxyconf.Health, log *slog.Logger) *Backend {
	b := &Backend{
		url:        url,
		health:     h,
		log:        log,
		outcomes:   make(chan messages.Outcome, outcomeMailbox),
		probes:     make(chan messages.ProbeResult, 1),
		subs:       make(chan subscription, 4),
		firstProbe: make(chan struct{}),
	}
	b.snap.Store(&BackendSnapshot{URL: url, State: messages.Healthy})
	return b
}

// Joined marks a backend added by a reload as entering rotation at t, so
// slow start ramps its share. Call it before Run.
func (b *Backend) Joined(t time.Time) {
	s := *b.snap.Load()
	s.InSince = t
	b.snap.Store(&s)
}

// Inherit starts the actor from another actor's published state: the same
// backend under health settings a reload changed keeps its state and
// counters. Call it before Run.
func (b *Backend) Inherit(from *BackendSnapshot) {
	s := *from
	s.URL = b.url // an ejection's timer is re-armed from EjectedUntil by Run
	b.snap.Store(&s)
}

// Name identifies the actor in supervisor logs.
func (b *Backend) Name() string { return "backend " + b.url }

// URL is the backend's configured URL.
func (b *Backend) URL() string { return b.url }

// Health returns the health settings the actor was made with.
func (b *Backend) Health() proxyconf.Health { return b.health }

// Snapshot returns the last published snapshot. Safe from any goroutine; the
// caller must not modify it.
func (b *Backend) Snapshot() *BackendSnapshot { return b.snap.Load() }

// Dropped returns how many outcomes were dropped because the mailbox was full.
func (b *Backend) Dropped() uint64 { return b.dropped.Load() }

// Report hands a live-traffic outcome to the actor without blocking: when the
// mailbox is full the outcome is dropped and counted. An outcome that would
// change nothing is not sent at all, so the common case (a success while
// the published snapshot shows no failure streak) does not wake the actor:
// a cancelled attempt, or a success while the backend is out of rotation
// or has no passive failure to forget. Outcomes of concurrent attempts
// arrive in no particular order anyway; a snapshot a moment old changes
// nothing about that.
func (b *Backend) Report(o messages.Outcome) {
	if o.Class != messages.Failure {
		if s := b.snap.Load(); o.Class == messages.Cancelled || s.State != messages.Healthy || s.ConsecFails == 0 {
			return
		}
	}
	select {
	case b.outcomes <- o:
	default:
		b.dropped.Add(1)
	}
}

// Probed delivers a probe result, waiting under ctx.
func (b *Backend) Probed(ctx context.Context, r messages.ProbeResult) error {
	select {
	case b.probes <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FirstProbe is closed once the actor has handled its first probe result.
func (b *Backend) FirstProbe() <-chan struct{} { return b.firstProbe }

// Subscribe makes r (where this backend sits at index) a route actor told of
// rotation changes and asked before ejections, and sends it the current
// state at once. It waits under ctx.
func (b *Backend) Subscribe(ctx context.Context, r *Route, index int) error {
	return b.sendSub(ctx, subscription{route: r, index: index})
}

// Unsubscribe undoes Subscribe for r. It waits under ctx.
func (b *Backend) Unsubscribe(ctx context.Context, r *Route) error {
	return b.sendSub(ctx, subscription{route: r, leave: true})
}

func (b *Backend) sendSub(ctx context.Context, s subscription) error {
	if err := ctx.Err(); err != nil {
		return err // even when there is room: a cancelled caller asks nothing
	}
	select {
	case b.subs <- s:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run is the actor loop. It rebuilds its state from the last published
// snapshot, so a restart after a panic carries on where the actor stood.
func (b *Backend) Run(ctx context.Context) error {
	m := b.newMachine()
	var expiry *time.Timer
	var expiryC <-chan time.Time
	armExpiry := func() {
		if expiry != nil {
			expiry.Stop()
			expiryC = nil
		}
		if m.s.State == messages.Ejected {
			expiry = time.NewTimer(time.Until(m.s.EjectedUntil))
			expiryC = expiry.C
		}
	}
	armExpiry()
	defer func() {
		if expiry != nil {
			expiry.Stop()
		}
	}()
	// After a panic a route may have heard of a change the snapshot never
	// showed (an ejection it granted): tell every route where we stand.
	m.tellRoutes(ctx)
	for {
		var before = m.s.State
		select {
		case <-ctx.Done():
			return nil
		case o := <-b.outcomes:
			m.outcome(ctx, o)
		case r := <-b.probes:
			m.probe(r)
			b.firstProbeOnce.Do(func() { close(b.firstProbe) })
		case now := <-expiryC:
			expiryC = nil
			m.expire(now)
		case s := <-b.subs:
			b.subscription(ctx, m, s)
		}
		if m.dirty {
			m.publish()
		}
		if m.s.State != before {
			m.tellRoutes(ctx)
			armExpiry()
		}
	}
}

// subscription adds or removes a route actor; a new one hears the current
// state at once.
func (b *Backend) subscription(ctx context.Context, m *machine, s subscription) {
	for i, have := range b.routes {
		if have.route == s.route {
			b.routes = append(b.routes[:i], b.routes[i+1:]...)
			break
		}
	}
	if s.leave {
		return
	}
	b.routes = append(b.routes, s)
	s.route.rotation(ctx, m.rotation(s.index))
}

// routeNames names the subscribed routes for a log line: all of them when
// few, else the first few and how many there are.
func (b *Backend) routeNames() string {
	const most = 8
	var sb strings.Builder
	for i, s := range b.routes {
		if i == most {
			sb.WriteString(" and " + strconv.Itoa(len(b.routes)-most) + " more")
			break
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(s.route.prefix)
	}
	return sb.String()
}
