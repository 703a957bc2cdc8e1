// Package supervisor starts ferrum's actors, restarts one that panics or
// fails, escalates when one keeps failing, and stops them in order. It knows
// nothing of HTTP.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// Service is an actor the supervisor runs. Run returns nil when ctx ends;
// any other return, or a panic, is a failure and the service is restarted.
type Service interface {
	Name() string
	Run(ctx context.Context) error
}

// Policy says how hard the supervisor tries before it gives up on a service.
type Policy struct {
	// Backoff is the wait before the first restart; it doubles (with
	// jitter) for each restart within Period, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Intensity restarts of one service within Period are tolerated; one
	// more escalates: the whole tree stops and Run returns an error.
	Intensity int
	Period    time.Duration
}

// DefaultPolicy is what ferrum runs with.
var DefaultPolicy = Policy{Backoff: 10 * time.Millisecond, MaxBackoff: time.Second, Intensity: 5, Period: 10 * time.Second}

// ErrEscalated is wrapped by the error Run returns when a service failed more
// often than the policy tolerates.
var ErrEscalated = errors.New("restart intensity exceeded")

// Supervisor runs services, each in its own goroutine, until Shutdown.
type Supervisor struct {
	log    *slog.Logger
	policy Policy

	ctx    context.Context // parent of every service's context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	fatal  chan error // first escalation; capacity 1, later ones are dropped
}

// New returns a supervisor whose services live until Shutdown.
func New(log *slog.Logger, p Policy) *Supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{log: log, policy: p, ctx: ctx, cancel: cancel, fatal: make(chan error, 1)}
}

// Handle stops one service started by Start.
type Handle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop cancels the service's context and waits until its goroutine returned.
func (h *Handle) Stop() {
	h.cancel()
	<-h.done
}

// Start runs svc under recover in a new goroutine, restarting it on failure
// with backoff. The returned Handle stops it alone; Shutdown stops it too.
func (s *Supervisor) Start(svc Service) *Handle {
	ctx, cancel := context.WithCancel(s.ctx)
	h := &Handle{cancel: cancel, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(h.done)
		s.keep(ctx, svc)
	}()
	return h
}

// Fatal delivers the error of the first service that escalated.
func (s *Supervisor) Fatal() <-chan error { return s.fatal }

// Shutdown cancels every service and returns once all of them returned.
func (s *Supervisor) Shutdown() {
	s.cancel()
	s.wg.Wait()
}

// keep runs svc until ctx ends or it fails past the restart intensity.
func (s *Supervisor) keep(ctx context.Context, svc Service) {
	var restarts []time.Time
	backoff := s.policy.Backoff
	for {
		err := runProtected(ctx, svc)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("returned before it was asked to stop")
		}
		now := time.Now()
		restarts = recent(append(restarts, now), now, s.policy.Period)
		if len(restarts) > s.policy.Intensity {
			err = fmt.Errorf("actor %s: %w (%d restarts within %s): %w",
				svc.Name(), ErrEscalated, len(restarts)-1, s.policy.Period, err)
			s.log.Error("actor_escalation", "actor", svc.Name(), "error", err.Error())
			select {
			case s.fatal <- err:
			default:
			}
			return
		}
		if len(restarts) == 1 {
			backoff = s.policy.Backoff
		}
		wait := jitter(backoff)
		s.log.Warn("actor_restart", "actor", svc.Name(), "error", err.Error(), "backoff", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, s.policy.MaxBackoff)
	}
}

// runProtected runs svc once, turning a panic into an error with its stack.
func runProtected(ctx context.Context, svc Service) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return svc.Run(ctx)
}

// recent keeps the times within period before now; ts is in order.
func recent(ts []time.Time, now time.Time, period time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > period {
		i++
	}
	return ts[i:]
}

// jitter spreads d over [d/2, d*3/2) so services that failed together do not
// restart in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}
