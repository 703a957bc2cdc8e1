package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// flaky panics on its first `panics` runs, then serves until cancelled.
type flaky struct {
	panics  int32
	runs    atomic.Int32
	started chan time.Time
}

func (f *flaky) Name() string { return "flaky" }

func (f *flaky) Run(ctx context.Context) error {
	n := f.runs.Add(1)
	f.started <- time.Now()
	if n <= f.panics {
		panic("injected")
	}
	<-ctx.Done()
	return nil
}

func TestRestartAfterPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Intensity: 5, Period: 10 * time.Second}
		s := New(quiet, p)
		f := &flaky{panics: 2, started: make(chan time.Time, 10)}
		s.Start(f)
		first := <-f.started
		second := <-f.started
		third := <-f.started
		// Each restart waits the jittered backoff: [d/2, 3d/2), doubling.
		if d := second.Sub(first); d < 50*time.Millisecond || d >= 150*time.Millisecond {
			t.Errorf("first restart after %v, want within [50ms,150ms)", d)
		}
		if d := third.Sub(second); d < 100*time.Millisecond || d >= 300*time.Millisecond {
			t.Errorf("second restart after %v, want within [100ms,300ms)", d)
		}
		select {
		case err := <-s.fatal:
			t.Fatalf("escalated after 2 panics: %v", err)
		default:
		}
		s.Shutdown()
		if got := f.runs.Load(); got != 3 {
			t.Errorf("runs = %d, want 3", got)
		}
	})
}

func TestEscalatePastIntensity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Intensity: 3, Period: 10 * time.Second}
		s := New(quiet, p)
		f := &flaky{panics: 100, started: make(chan time.Time, 100)}
		s.Start(f)
		err := s.Run(context.Background())
		if !errors.Is(err, ErrEscalated) {
			t.Fatalf("Run = %v, want ErrEscalated", err)
		}
		// Intensity 3 tolerates three restarts: four runs, then escalation.
		if got := f.runs.Load(); got != 4 {
			t.Errorf("runs before escalation = %d, want 4", got)
		}
	})
}

func TestSlowFailuresDoNotEscalate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Intensity: 2, Period: time.Second}
		s := New(quiet, p)
		f := &spacedFailer{every: 2 * time.Second, limit: 6}
		s.Start(f)
		for f.runs.Load() < 6 {
			time.Sleep(time.Second)
		}
		select {
		case err := <-s.fatal:
			t.Fatalf("escalated though failures were a period apart: %v", err)
		default:
		}
		s.Shutdown()
	})
}

// spacedFailer fails every `every`, then serves once it has run limit times.
type spacedFailer struct {
	every time.Duration
	limit int32
	runs  atomic.Int32
}

func (f *spacedFailer) Name() string { return "spaced" }

func (f *spacedFailer) Run(ctx context.Context) error {
	if f.runs.Add(1) >= f.limit {
		<-ctx.Done()
		return nil
	}
	select {
	case <-time.After(f.every):
		return errors.New("failed")
	case <-ctx.Done():
		return nil
	}
}

func TestHandleStopsOneService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(quiet, DefaultPolicy)
		a := &flaky{started: make(chan time.Time, 1)}
		b := &flaky{started: make(chan time.Time, 1)}
		ha := s.Start(a)
		s.Start(b)
		<-a.started
		<-b.started
		ha.Stop()
		synctest.Wait()
		if a.runs.Load() != 1 || b.runs.Load() != 1 {
			t.Fatalf("runs a=%d b=%d, want 1 each", a.runs.Load(), b.runs.Load())
		}
		s.Shutdown()
	})
}

func TestRecent(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := []time.Time{base, base.Add(5 * time.Second), base.Add(9 * time.Second)}
	cases := []struct {
		now  time.Duration
		want int
	}{
		{9 * time.Second, 3},
		{11 * time.Second, 2},
		{16 * time.Second, 1},
		{30 * time.Second, 0},
	}
	for _, c := range cases {
		if got := len(recent(ts, base.Add(c.now), 10*time.Second)); got != c.want {
			t.Errorf("recent(now=+%v) kept %d, want %d", c.now, got, c.want)
		}
	}
}

// stubborn ignores its context until released.
type stubborn struct{ release chan struct{} }

func (s *stubborn) Name() string { return "stubborn" }

func (s *stubborn) Run(ctx context.Context) error {
	<-s.release
	return nil
}

// TestStopGivesUpOnAStubbornService: Stop and Shutdown wait at most the
// policy's StopTimeout for a service that ignores its context.
func TestStopGivesUpOnAStubbornService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := DefaultPolicy
		p.StopTimeout = 3 * time.Second
		s := New(quiet, p)
		st := &stubborn{release: make(chan struct{})}
		h := s.Start(st)
		start := time.Now()
		h.Stop()
		if d := time.Since(start); d != p.StopTimeout {
			t.Errorf("Stop returned after %v, want the stop timeout %v", d, p.StopTimeout)
		}
		start = time.Now()
		s.Shutdown()
		if d := time.Since(start); d != p.StopTimeout {
			t.Errorf("Shutdown returned after %v, want the stop timeout %v", d, p.StopTimeout)
		}
		close(st.release) // let the bubble end
		<-h.Done()
	})
}

// TestRunReturnsWhenCancelled: Run returns nil once its context ends, after
// every service stopped.
func TestRunReturnsWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(quiet, DefaultPolicy)
		f := &flaky{started: make(chan time.Time, 1)}
		h := s.Start(f)
		<-f.started
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Second); cancel() }()
		if err := s.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		select {
		case <-h.Done():
		default:
			t.Fatal("Run returned before its service did")
		}
	})
}
