// Package supervisor runs long-lived services: it restarts one that panics
// or fails, escalates when one keeps failing, and stops them in order. It
// knows nothing of ferrum's actors or of HTTP: a service is a name and a Run
// method, a Policy says how hard to try, and a Group (group.go) ties the
// process's long-lived goroutines together so the first to end stops the
// rest.
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

// Service is something the supervisor runs. Run returns nil when ctx ends;
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
	// more escalates: every service stops and Run returns an error.
	Intensity int
	Period    time.Duration
	// StopTimeout bounds the wait for a service to return once asked to
	// stop; one that ignores its context is given up on (and logged).
	StopTimeout time.Duration
}

// DefaultPolicy is what ferrum runs with.
var DefaultPolicy = Policy{
	Backoff: 10 * time.Millisecond, MaxBackoff: time.Second,
	Intensity: 5, Period: 10 * time.Second, StopTimeout: 5 * time.Second,
}

// ErrEscalated is wrapped by the error Run returns when a service failed more
// often than the policy tolerates.
var ErrEscalated = errors.New("restart intensity exceeded")

// ErrStopTimeout is logged for a service that did not return within the
// policy's StopTimeout after it was asked to stop.
var ErrStopTimeout = errors.New("did not stop in time")

// Supervisor runs services, each in a goroutine of its own, until Shutdown
// or until one escalates. Start and Shutdown may be called from any
// goroutine.
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
	name    string
	cancel  context.CancelFunc
	done    chan struct{}
	timeout time.Duration
	log     *slog.Logger
}

// Stop cancels the service's context and waits until its goroutine returned,
// or gives up after the policy's StopTimeout. Safe to call more than once.
func (h *Handle) Stop() {
	h.cancel()
	waitBounded(h.done, h.timeout, h.log, h.name)
}

// Done is closed once the service's goroutine has returned for good.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Start runs svc under recover in a new goroutine, restarting it on failure
// with backoff. The returned Handle stops it alone; Shutdown stops it too.
func (s *Supervisor) Start(svc Service) *Handle {
	ctx, cancel := context.WithCancel(s.ctx)
	h := &Handle{name: svc.Name(), cancel: cancel, done: make(chan struct{}), timeout: s.policy.StopTimeout, log: s.log}
	s.wg.Add(1)
	go s.keep(ctx, svc, h.done)
	return h
}

// Run waits until ctx ends or a service escalates, then stops every service
// (bounded by StopTimeout) and returns: nil after ctx ended, the escalation
// error otherwise. It is how the supervisor takes part in a Group.
func (s *Supervisor) Run(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-s.fatal:
	}
	s.Shutdown()
	return err
}

// Shutdown cancels every service and returns once all of them returned, or
// after StopTimeout with the stragglers logged.
func (s *Supervisor) Shutdown() {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	waitBounded(done, s.policy.StopTimeout, s.log, "supervisor")
}

// waitBounded waits for done, at most timeout when it is positive; a wait
// that times out is logged under name.
func waitBounded(done <-chan struct{}, timeout time.Duration, log *slog.Logger, name string) {
	if timeout <= 0 {
		<-done
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Error("stop_timeout", "actor", name, "error", fmt.Sprintf("%s: %v after %s", name, ErrStopTimeout, timeout))
	}
}

// keep runs svc until ctx ends or it fails past the restart intensity. Its
// own frame is kept small (the restart bookkeeping lives in restarter),
// since every actor's goroutine sits in it: a config with ten thousand
// route actors pays for each byte of stack ten thousand times.
func (s *Supervisor) keep(ctx context.Context, svc Service, done chan struct{}) {
	defer s.wg.Done()
	defer close(done)
	var r restarter
	for {
		err := runProtected(ctx, svc)
		if ctx.Err() != nil || !s.restart(ctx, svc, &r, err) {
			return
		}
	}
}

// restarter is what keep remembers between the runs of one service.
type restarter struct {
	times   []time.Time // restarts within the policy's period
	backoff time.Duration
}

// restart decides on a service that returned err while its context was
// live: it escalates past the restart intensity (false), or waits the
// jittered backoff (false when ctx ends first, true otherwise).
//
//go:noinline
func (s *Supervisor) restart(ctx context.Context, svc Service, r *restarter, err error) bool {
	if err == nil {
		err = errors.New("returned before it was asked to stop")
	}
	now := time.Now()
	r.times = recent(append(r.times, now), now, s.policy.Period)
	if len(r.times) > s.policy.Intensity {
		err = fmt.Errorf("actor %s: %w (%d restarts within %s): %w",
			svc.Name(), ErrEscalated, len(r.times)-1, s.policy.Period, err)
		s.log.Error("actor_escalation", "actor", svc.Name(), "error", err.Error())
		select {
		case s.fatal <- err:
		default:
		}
		return false
	}
	if len(r.times) == 1 || r.backoff == 0 {
		r.backoff = s.policy.Backoff
	}
	wait := jitter(r.backoff)
	s.log.Warn("actor_restart", "actor", svc.Name(), "error", err.Error(), "backoff", wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	r.backoff = min(r.backoff*2, s.policy.MaxBackoff)
	return true
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
