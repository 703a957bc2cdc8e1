package supervisor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder notes the order in which group members returned.
type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) note(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, name)
}

// waiter is a member that returns nil when its context ends.
func (r *recorder) waiter(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		r.note(name)
		return nil
	}
}

func TestGroupFirstToEndStopsTheRest(t *testing.T) {
	boom := errors.New("listener failed")
	cases := []struct {
		name      string
		firstErr  error
		wantErr   bool
		wantOrder []string
	}{
		// The rest are interrupted newest first.
		{"member fails", boom, true, []string{"listener", "signals", "serve", "supervisor"}},
		{"member returns nil", nil, false, []string{"listener", "signals", "serve", "supervisor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r recorder
				var g Group
				g.Add("supervisor", r.waiter("supervisor"))
				g.Add("serve", r.waiter("serve"))
				g.Add("listener", func(ctx context.Context) error {
					time.Sleep(time.Second)
					r.note("listener")
					return c.firstErr
				})
				g.Add("signals", r.waiter("signals"))
				err := g.Run(context.Background())
				if (err != nil) != c.wantErr {
					t.Fatalf("Run = %v, want error %v", err, c.wantErr)
				}
				var ended *Ended
				if c.wantErr && (!errors.As(err, &ended) || ended.Member != "listener" || !errors.Is(err, boom)) {
					t.Errorf("Run = %v, want the listener's error named", err)
				}
				if !slices.Equal(r.order, c.wantOrder) {
					t.Errorf("members returned in order %v, want %v", r.order, c.wantOrder)
				}
			})
		})
	}
}

// TestGroupWaitsForEveryMember: Run returns only once every member did, even
// one slow to stop, and gives up on one that ignores its context after
// StopTimeout.
func TestGroupWaitsForEveryMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Group{StopTimeout: 5 * time.Second}
		slowDone := make(chan struct{})
		g.Add("slow", func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(2 * time.Second)
			close(slowDone)
			return nil
		})
		release := make(chan struct{})
		g.Add("stubborn", func(ctx context.Context) error {
			<-release
			return nil
		})
		g.Add("first", func(ctx context.Context) error { return nil })
		start := time.Now()
		if err := g.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		select {
		case <-slowDone:
		default:
			t.Error("Run returned before the slow member did")
		}
		// 5 s for the stubborn one (given up on), then 2 s for the slow one.
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("Run took %v, want 7s", d)
		}
		close(release)
	})
}

func TestGroupPanicEndsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		var g Group
		g.Add("actors", r.waiter("actors"))
		g.Add("reload", func(ctx context.Context) error { panic("bad reload") })
		err := g.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "reload: panic: bad reload") {
			t.Fatalf("Run = %v, want the panic as the reload member's error", err)
		}
		if !slices.Equal(r.order, []string{"actors"}) {
			t.Errorf("returned: %v, want the actors stopped", r.order)
		}
	})
}

func TestGroupContextStopsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		var g Group
		g.Add("a", r.waiter("a"))
		g.Add("b", r.waiter("b"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if !slices.Equal(r.order, []string{"b", "a"}) {
			t.Errorf("returned in order %v, want [b a]", r.order)
		}
	})
}
