// Package actors holds ferrum's actors: one goroutine per backend owning that
// backend's health, one per route choosing among its backends, and one prober
// per backend. Each actor's mutable state lives in locals of its Run loop;
// everyone else talks to it through its exported methods (which send on its
// mailboxes) or reads the immutable snapshot it published.
package actors

import (
	"context"
	"log/slog"
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
	Route        string
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

// Backend is the actor that owns one (route, backend) pair's health state. It
// receives live-traffic outcomes, probe results and settings over channels,
// tells its route actor when it enters or leaves rotation, and publishes a
// BackendSnapshot after every change.
type Backend struct {
	route string
	url   string
	log   *slog.Logger

	// outcomes is lossy: the request path never waits on a backend actor; a
	// full mailbox drops the outcome and counts it in dropped.
	outcomes chan messages.Outcome
	// probes waits under the prober's context: every result arrives.
	probes chan messages.ProbeResult
	// control carries settings and route subscriptions; senders wait under
	// their context, nothing is dropped.
	control chan any

	dropped atomic.Uint64                   // written by senders of outcomes
	snap    atomic.Pointer[BackendSnapshot] // written only by Run
	health  atomic.Pointer[proxyconf.Health]
	sub     atomic.Pointer[subscribe] // route actor told of changes; written only by Run

	firstProbe     chan struct{} // closed after the first probe result is handled
	firstProbeOnce sync.Once
}

type subscribe struct {
	route *Route
	index int
}

// NewBackend makes the actor for backend url of route. Run starts it;
// Subscribe connects it to its route actor.
func NewBackend(route string, url string, h proxyconf.Health, log *slog.Logger) *Backend {
	b := &Backend{
		route:      route,
		url:        url,
		log:        log,
		outcomes:   make(chan messages.Outcome, 64),
		probes:     make(chan messages.ProbeResult, 1),
		control:    make(chan any, 4),
		firstProbe: make(chan struct{}),
	}
	b.health.Store(&h)
	b.snap.Store(&BackendSnapshot{Route: route, URL: url, State: messages.Healthy})
	return b
}

// Joined marks a backend added by a reload as entering rotation at t, so
// slow start ramps its share. Call it before Run.
func (b *Backend) Joined(t time.Time) {
	s := *b.snap.Load()
	s.InSince = t
	b.snap.Store(&s)
}

// Name identifies the actor in supervisor logs.
func (b *Backend) Name() string { return "backend " + b.route + " " + b.url }

// URL is the backend's configured URL.
func (b *Backend) URL() string { return b.url }

// Snapshot returns the last published snapshot. Safe from any goroutine; the
// caller must not modify it.
func (b *Backend) Snapshot() *BackendSnapshot { return b.snap.Load() }

// Dropped returns how many outcomes were dropped because the mailbox was full.
func (b *Backend) Dropped() uint64 { return b.dropped.Load() }

// Report hands a live-traffic outcome to the actor without blocking: when the
// mailbox is full the outcome is dropped and counted.
func (b *Backend) Report(o messages.Outcome) {
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

// Health returns the health settings in force.
func (b *Backend) Health() proxyconf.Health { return *b.health.Load() }

// SetHealth changes the health settings; they apply from the next event on.
func (b *Backend) SetHealth(h proxyconf.Health) { b.health.Store(&h) }

// Subscribe makes r (where this backend sits at index) the route actor told
// of rotation changes, and sends it the current state at once. It waits under
// ctx.
func (b *Backend) Subscribe(ctx context.Context, r *Route, index int) error {
	select {
	case b.control <- subscribe{route: r, index: index}:
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
	if b.sub.Load() != nil {
		// After a panic the route may have heard of a change the snapshot
		// never showed (an ejection it granted): tell it where we stand.
		m.tellRoute(ctx, m.s.State == messages.Healthy)
	}
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
		case c := <-b.control:
			if s, ok := c.(subscribe); ok {
				b.sub.Store(&s)
				m.tellRoute(ctx, m.s.State == messages.Healthy)
			}
		}
		if m.dirty {
			m.publish()
		}
		if m.s.State != before {
			m.tellRoute(ctx, m.s.State == messages.Healthy)
			armExpiry()
		}
	}
}
