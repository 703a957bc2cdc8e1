package actors

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testHealth() proxyconf.Health {
	h := proxyconf.Default().Health
	h.FailureThreshold = 3
	h.RecoveryThreshold = 2
	h.EjectionDuration = 30 * time.Second
	h.MaxEjectionDuration = 5 * time.Minute
	h.MaxEjectedPercent = 50
	return h
}

// run starts actor in the bubble and returns a stop function that cancels it
// and waits for Run to return.
func run(t *testing.T, actor interface{ Run(context.Context) error }) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := actor.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	return func() { cancel(); <-done }
}

var (
	fail    = messages.Outcome{Class: messages.Failure, Kind: "upstream_connect"}
	ok      = messages.Outcome{Class: messages.Success, Status: 200}
	gone    = messages.Outcome{Class: messages.Cancelled}
	passing = messages.ProbeResult{OK: true, Status: 200}
	failing = messages.ProbeResult{OK: false, Err: "refused"}
	// localShort is a probe ferrum could not make: out of file descriptors.
	localShort = messages.ProbeResult{OK: false, Local: true, Err: "too many open files"}
)

// step is one scripted event: an outcome, a probe, or a wait.
type step struct {
	outcome *messages.Outcome
	probe   *messages.ProbeResult
	wait    time.Duration
}

func out(o messages.Outcome) step         { return step{outcome: &o} }
func probe(p messages.ProbeResult) step   { return step{probe: &p} }
func wait(d time.Duration) step           { return step{wait: d} }
func repeat(s step, n int) (steps []step) { return append(steps, slicesRepeat(s, n)...) }

func slicesRepeat(s step, n int) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func play(t *testing.T, b *Backend, steps []step) {
	t.Helper()
	for _, s := range steps {
		switch {
		case s.outcome != nil:
			b.Report(*s.outcome)
		case s.probe != nil:
			p := *s.probe
			p.At = time.Now()
			if err := b.Probed(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		default:
			time.Sleep(s.wait)
		}
		synctest.Wait()
	}
}

func TestBackendStateMachine(t *testing.T) {
	cases := []struct {
		name          string
		steps         []step
		wantState     messages.State
		wantEjections uint64
		wantReason    string
		wantUntil     time.Duration // from the start, when ejected
	}{
		{name: "below threshold stays healthy", steps: repeat(out(fail), 2), wantState: messages.Healthy},
		{name: "success resets the count", steps: concat(repeat(out(fail), 2), []step{out(ok)}, repeat(out(fail), 2)), wantState: messages.Healthy},
		{name: "threshold crossing ejects", steps: repeat(out(fail), 3), wantState: messages.Ejected, wantEjections: 1, wantReason: messages.ReasonPassiveFailure, wantUntil: 30 * time.Second},
		{name: "client-caused failures are ignored", steps: repeat(out(gone), 10), wantState: messages.Healthy},
		{name: "ejection expires to unhealthy", steps: concat(repeat(out(fail), 3), []step{wait(30 * time.Second)}), wantState: messages.Unhealthy, wantEjections: 1, wantReason: messages.ReasonEjectionExpired},
		{name: "probes during ejection do not end it", steps: concat(repeat(out(fail), 3), repeat(probe(passing), 5)), wantState: messages.Ejected, wantEjections: 1, wantReason: messages.ReasonPassiveFailure, wantUntil: 30 * time.Second},
		{name: "recovery after threshold probes", steps: concat(repeat(out(fail), 3), []step{wait(30 * time.Second)}, repeat(probe(passing), 2)), wantState: messages.Healthy, wantEjections: 1, wantReason: messages.ReasonActiveRecovery},
		{name: "one passing probe is not enough", steps: concat(repeat(out(fail), 3), []step{wait(30 * time.Second), probe(passing)}), wantState: messages.Unhealthy, wantEjections: 1},
		{name: "active failures mark unhealthy", steps: repeat(probe(failing), 3), wantState: messages.Unhealthy, wantReason: messages.ReasonActiveFailure},
		{name: "probes ferrum could not make count neither way", steps: repeat(probe(localShort), 5), wantState: messages.Healthy},
		{
			name:      "a local shortage does not break a streak of failing probes",
			steps:     concat(repeat(probe(failing), 2), []step{probe(localShort)}, []step{probe(failing)}),
			wantState: messages.Unhealthy, wantReason: messages.ReasonActiveFailure,
		},
		{
			name:      "live successes do not excuse failing probes",
			steps:     concat([]step{probe(failing), out(ok)}, []step{probe(failing), out(ok)}, []step{probe(failing), out(ok)}),
			wantState: messages.Unhealthy, wantReason: messages.ReasonActiveFailure,
		},
		{
			name:      "passing probes do not excuse live failures",
			steps:     concat([]step{out(fail), probe(passing)}, []step{out(fail), probe(passing)}, []step{out(fail), probe(passing)}),
			wantState: messages.Ejected, wantEjections: 1, wantReason: messages.ReasonPassiveFailure,
		},
		{
			name:      "probe and live failures do not add up",
			steps:     concat(repeat(probe(failing), 2), repeat(out(fail), 2)),
			wantState: messages.Healthy,
		},
		{name: "traffic to an unhealthy backend is ignored", steps: concat(repeat(probe(failing), 3), repeat(out(fail), 5)), wantState: messages.Unhealthy, wantReason: messages.ReasonActiveFailure},
		{
			name: "flapping doubles the ejection",
			steps: concat(repeat(out(fail), 3), []step{wait(30 * time.Second)}, repeat(probe(passing), 2),
				[]step{wait(time.Minute)}, repeat(out(fail), 3)),
			wantState: messages.Ejected, wantEjections: 2, wantUntil: 90*time.Second + 60*time.Second,
		},
		{
			name: "staying healthy resets the doubling",
			steps: concat(repeat(out(fail), 3), []step{wait(30 * time.Second)}, repeat(probe(passing), 2),
				[]step{wait(6 * time.Minute)}, repeat(out(fail), 3)),
			wantState: messages.Ejected, wantEjections: 2, wantUntil: 30*time.Second + 6*time.Minute + 30*time.Second,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				b := NewBackend("http://127.0.0.1:1", testHealth(), quiet)
				stop := run(t, b)
				defer stop()
				play(t, b, c.steps)
				s := b.Snapshot()
				if s.State != c.wantState {
					t.Errorf("state = %v, want %v", s.State, c.wantState)
				}
				if s.Ejections != c.wantEjections {
					t.Errorf("ejections = %d, want %d", s.Ejections, c.wantEjections)
				}
				if c.wantReason != "" && (s.LastChange == nil || s.LastChange.Reason != c.wantReason) {
					t.Errorf("last transition = %+v, want reason %q", s.LastChange, c.wantReason)
				}
				if c.wantUntil != 0 && !s.EjectedUntil.Equal(start.Add(c.wantUntil)) {
					t.Errorf("ejected until +%v, want +%v", s.EjectedUntil.Sub(start), c.wantUntil)
				}
			})
		})
	}
}

func TestEjectionDoublingIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := testHealth()
		h.MaxEjectionDuration = 100 * time.Second
		b := NewBackend("http://127.0.0.1:1", h, quiet)
		stop := run(t, b)
		defer stop()
		var last time.Duration
		for i := 0; i < 4; i++ {
			play(t, b, repeat(out(fail), 3))
			s := b.Snapshot()
			last = time.Until(s.EjectedUntil)
			play(t, b, concat([]step{wait(last)}, repeat(probe(passing), 2)))
		}
		if last != 100*time.Second {
			t.Fatalf("fourth ejection lasted %v, want the 100s cap", last)
		}
	})
}

func TestRestartKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBackend("http://127.0.0.1:1", testHealth(), quiet)
		stop := run(t, b)
		play(t, b, repeat(out(fail), 3))
		stop()
		// A new Run (as after a panic) starts from the published snapshot
		// and still ends the ejection on time.
		stop = run(t, b)
		defer stop()
		play(t, b, []step{wait(30 * time.Second)})
		if s := b.Snapshot(); s.State != messages.Unhealthy {
			t.Fatalf("after restart and expiry state = %v, want unhealthy", s.State)
		}
	})
}

func TestReportNeverBlocks(t *testing.T) {
	b := NewBackend("http://127.0.0.1:1", testHealth(), quiet)
	// No actor runs: the mailbox fills, then outcomes are dropped and counted.
	n := cap(b.outcomes) + 10
	for i := 0; i < n; i++ {
		b.Report(fail)
	}
	if got := b.Dropped(); got != 10 {
		t.Fatalf("dropped = %d, want 10", got)
	}
}

// TestReportSkipsWhatChangesNothing: outcomes that could not change the
// backend's state do not reach (or wake) its actor; those that could do.
func TestReportSkipsWhatChangesNothing(t *testing.T) {
	cases := []struct {
		name  string
		snap  BackendSnapshot
		o     messages.Outcome
		wantQ int
	}{
		{"success, no streak", BackendSnapshot{State: messages.Healthy}, ok, 0},
		{"success ends a streak", BackendSnapshot{State: messages.Healthy, ConsecFails: 1}, ok, 1},
		{"success to a backend out of rotation", BackendSnapshot{State: messages.Ejected, ConsecFails: 3}, ok, 0},
		{"cancelled", BackendSnapshot{State: messages.Healthy, ConsecFails: 2}, gone, 0},
		{"failure", BackendSnapshot{State: messages.Healthy}, fail, 1},
		{"failure while out", BackendSnapshot{State: messages.Unhealthy}, fail, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBackend("http://127.0.0.1:1", testHealth(), quiet)
			s := c.snap
			b.snap.Store(&s)
			b.Report(c.o)
			if got := len(b.outcomes); got != c.wantQ {
				t.Errorf("Report(%v) with snapshot %v/%d queued %d outcomes, want %d", c.o.Class, s.State, s.ConsecFails, got, c.wantQ)
			}
		})
	}
}

func concat(parts ...[]step) []step {
	var all []step
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// TestHealthTransitionLoggedOncePerChange: each state change writes exactly
// one health_transition line, naming the states and the reason.
func TestHealthTransitionLoggedOncePerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuf
		b := NewBackend("http://127.0.0.1:3001", testHealth(), slog.New(slog.NewTextHandler(&buf, nil)))
		defer run(t, b)()
		play(t, b, concat(repeat(out(fail), 5), []step{wait(30 * time.Second)}, repeat(probe(passing), 4)))
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		want := []string{
			"from=healthy to=ejected reason=passive_failure",
			"from=ejected to=unhealthy reason=ejection_expired",
			"from=unhealthy to=healthy reason=active_recovery",
		}
		var got []string
		for _, l := range lines {
			if strings.Contains(l, "msg=health_transition") {
				got = append(got, l)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d health_transition lines, want %d:\n%s", len(got), len(want), buf.String())
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("transition %d: %q, want it to say %q", i, got[i], w)
			}
		}
	})
}

// syncBuf is a bytes.Buffer safe for the actor and the test to share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
