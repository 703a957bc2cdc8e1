package actors

import (
	"context"
	"time"

	"ferrum/messages"
)

// machine is a backend actor's health state machine. It lives in the locals
// of Backend.Run; s is a private working copy of the snapshot, published as a
// fresh value whenever dirty.
type machine struct {
	b     *Backend
	s     BackendSnapshot
	dirty bool
}

func (b *Backend) newMachine() *machine {
	return &machine{b: b, s: *b.snap.Load()}
}

func (m *machine) publish() {
	s := m.s
	m.b.snap.Store(&s)
	m.dirty = false
}

// outcome handles one live-traffic attempt's outcome. Live traffic and
// probes keep separate streaks: a success on the wire does not excuse a
// failing health check, nor a passing check a failing backend.
func (m *machine) outcome(ctx context.Context, o messages.Outcome) {
	if m.s.State != messages.Healthy {
		// Attempts that were already under way when the backend left
		// rotation tell nothing new.
		return
	}
	switch o.Class {
	case messages.Success:
		if m.s.ConsecFails != 0 {
			m.s.ConsecFails = 0
			m.dirty = true
		}
	case messages.Failure:
		m.s.ConsecFails++
		m.s.PassiveFailures++
		m.dirty = true
		h := m.b.Health()
		if m.s.ConsecFails >= h.FailureThreshold && m.askEject(ctx) {
			m.eject(time.Now())
		}
	}
}

// probe handles one active probe result.
func (m *machine) probe(r messages.ProbeResult) {
	h := m.b.Health()
	m.s.LastCheck = &r
	m.s.ProbesDone++
	m.dirty = true
	if r.Local {
		// ferrum's own shortage says nothing about the backend.
		return
	}
	if !r.OK {
		m.s.ActiveFailures++
		m.s.ConsecOKs = 0
		m.s.ProbeFails++
		if m.s.State == messages.Healthy && m.s.ProbeFails >= h.FailureThreshold {
			m.move(r.At, messages.Unhealthy, messages.ReasonActiveFailure)
		}
		return
	}
	m.s.ProbeFails = 0
	if m.s.State == messages.Ejected {
		// Probes during an ejection do not shorten it.
		return
	}
	m.s.ConsecOKs++
	if m.s.State == messages.Unhealthy && m.s.ConsecOKs >= h.RecoveryThreshold {
		m.s.ConsecFails = 0
		m.move(r.At, messages.Healthy, messages.ReasonActiveRecovery)
		m.s.LastReturn = r.At
		m.s.InSince = r.At
	}
}

// expire ends an ejection: the backend stays out until probes bring it back.
func (m *machine) expire(now time.Time) {
	if m.s.State != messages.Ejected {
		return
	}
	m.s.ConsecOKs = 0
	m.s.EjectedUntil = time.Time{}
	m.move(now, messages.Unhealthy, messages.ReasonEjectionExpired)
}

// eject takes the backend out on passive evidence, for a duration that
// doubles each time it is ejected again soon after coming back.
func (m *machine) eject(now time.Time) {
	h := m.b.Health()
	if !m.s.LastReturn.IsZero() && now.Sub(m.s.LastReturn) < h.MaxEjectionDuration && m.s.Ejections > 0 {
		m.s.Streak++
	} else {
		m.s.Streak = 0
	}
	d := h.EjectionDuration
	for i := 0; i < m.s.Streak && d < h.MaxEjectionDuration; i++ {
		d *= 2
	}
	d = min(d, h.MaxEjectionDuration)
	m.s.Ejections++
	m.s.EjectedUntil = now.Add(d)
	m.s.ConsecOKs = 0
	m.move(now, messages.Ejected, messages.ReasonPassiveFailure)
}

func (m *machine) move(now time.Time, to messages.State, reason string) {
	from := m.s.State
	if from == to {
		return
	}
	m.s.State = to
	m.s.TransitionsTo[to]++
	m.s.LastChange = &Transition{At: now, From: from, To: to, Reason: reason}
	m.dirty = true
	if m.b.log != nil {
		attrs := []any{"route", m.b.routeNames(), "backend", m.b.url, "from", from.String(), "to", to.String(), "reason", reason}
		if to == messages.Ejected {
			attrs = append(attrs, "ejected_until", m.s.EjectedUntil)
		}
		m.b.log.Info("health_transition", attrs...)
	}
}

// askEject asks every route that lists this backend whether it may leave
// rotation on passive evidence: it is ejected only when all of them allow
// it. A route that allows takes it out at once (so two backends asking
// together cannot both slip under a route's cap); when a later route
// refuses, the ones that allowed are told it is back in. Without a route
// (tests of a lone backend) it may.
func (m *machine) askEject(ctx context.Context) bool {
	for k, s := range m.b.routes {
		if s.route.askEject(ctx, s.index) {
			continue
		}
		for _, granted := range m.b.routes[:k] {
			granted.route.rotation(ctx, m.rotation(granted.index))
		}
		return false
	}
	return true
}

// rotation is the message telling a route, where this backend sits at
// index, whether it is in rotation.
func (m *machine) rotation(index int) messages.Rotation {
	return messages.Rotation{Index: index, In: m.s.State == messages.Healthy, Since: m.s.InSince}
}

// tellRoutes tells every subscribed route whether the backend is in rotation.
func (m *machine) tellRoutes(ctx context.Context) {
	for _, s := range m.b.routes {
		s.route.rotation(ctx, m.rotation(s.index))
	}
}
