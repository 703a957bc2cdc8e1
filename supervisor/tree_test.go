package supervisor

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/actors"
	"ferrum/messages"
	"ferrum/proxyconf"
)

func parse(t *testing.T, routes ...string) *proxyconf.Config {
	t.Helper()
	conf := "[health]\ninterval = \"1h\"\n" + strings.Join(routes, "")
	cfg, err := proxyconf.Parse("test.toml", []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func route(prefix string, backends ...string) string {
	q := make([]string, len(backends))
	for i, b := range backends {
		q[i] = fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("[[route]]\npath_prefix = %q\nbackends = [%s]\n", prefix, strings.Join(q, ", "))
}

const (
	u1 = "http://127.0.0.1:1"
	u2 = "http://127.0.0.1:2"
	u3 = "http://127.0.0.1:3"
)

func TestReloadKeepsWhatStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(quiet, DefaultPolicy)
		defer s.Shutdown()
		ctx := context.Background()
		old, err := s.StartTree(ctx, parse(t, route("/api", u1, u2), route("/gone", u3), route("/same", u1)))
		if err != nil {
			t.Fatal(err)
		}
		next, ch, finish, err := s.Reload(ctx, old, parse(t, route("/api", u2, u3), route("/same", u1), route("/new", u1)))
		if err != nil {
			t.Fatal(err)
		}
		finish()
		api := next.Routes[0]
		if api.Backends[0] != old.Routes[0].Backends[1] {
			t.Errorf("/api %s: kept backend got a new actor", u2)
		}
		if api.Actor == old.Routes[0].Actor {
			t.Errorf("/api: backend list changed but the route actor was kept")
		}
		if next.Routes[1].Actor != old.Routes[2].Actor {
			t.Errorf("/same: unchanged route got a new route actor")
		}
		want := Changes{
			RoutesAdded: []string{"/new"}, RoutesRemoved: []string{"/gone"}, RoutesChanged: []string{"/api"},
			BackendsAdded: []string{"/api " + u3}, BackendsRemoved: []string{"/api " + u1, "/gone " + u3},
		}
		if fmt.Sprint(ch) != fmt.Sprint(want) {
			t.Errorf("changes = %+v\nwant      %+v", ch, want)
		}
		// The old /api route actor is retired; the new one picks only
		// among the new list.
		if _, _, err := old.Routes[0].Actor.Pick(ctx, -1, 0, false, false); err != actors.ErrRetired {
			t.Errorf("old route actor Pick err = %v, want ErrRetired", err)
		}
		seen := map[int]bool{}
		for range 4 {
			i, ok, err := api.Actor.Pick(ctx, -1, 0, false, false)
			if err != nil || !ok {
				t.Fatalf("new /api Pick: %v %v", ok, err)
			}
			api.Actor.Release(i)
			seen[i] = true
		}
		if len(seen) != 2 {
			t.Errorf("new /api picked %v, want both backends", seen)
		}
		next.Stop()
	})
}

// TestReloadListsChangedBackends: a backend whose weight or health
// settings changed is named in the reload's changes.
func TestReloadListsChangedBackends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(quiet, DefaultPolicy)
		defer s.Shutdown()
		ctx := context.Background()
		weighted := fmt.Sprintf("[[route]]\npath_prefix = \"/w\"\nbackends = [{ url = %q, weight = 3 }, %q]\n", u1, u2)
		old, err := s.StartTree(ctx, parse(t, route("/w", u1, u2), route("/h", u3)))
		if err != nil {
			t.Fatal(err)
		}
		next, ch, finish, err := s.Reload(ctx, old, parse(t, weighted, route("/h", u3)+"[route.health]\nfailure_threshold = 9\n"))
		if err != nil {
			t.Fatal(err)
		}
		finish()
		want := []string{"/w " + u1, "/h " + u3}
		if fmt.Sprint(ch.BackendsChanged) != fmt.Sprint(want) {
			t.Errorf("backends changed = %v, want %v", ch.BackendsChanged, want)
		}
		next.Stop()
	})
}

// crashOnce runs a backend actor and panics once, when told to, the way a
// bug in the actor would; the supervisor must restart it from its snapshot.
type crashOnce struct {
	*actors.Backend
	crash   chan struct{}
	crashed atomic.Bool
}

func (c *crashOnce) Run(ctx context.Context) error {
	if c.crashed.Load() {
		return c.Backend.Run(ctx)
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.crash:
		case <-inner.Done():
		}
		cancel()
	}()
	err := c.Backend.Run(inner)
	if ctx.Err() == nil {
		c.crashed.Store(true)
		panic("injected crash")
	}
	return err
}

func TestPanickedBackendResumesFromSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(quiet, DefaultPolicy)
		h := proxyconf.Default().Health
		b := actors.NewBackend("/api", u1, h, quiet)
		c := &crashOnce{Backend: b, crash: make(chan struct{})}
		s.Start(c)
		for range h.FailureThreshold {
			b.Report(messages.Outcome{Class: messages.Failure})
			synctest.Wait()
		}
		if b.Snapshot().State != messages.Ejected {
			t.Fatalf("state %v, want ejected", b.Snapshot().State)
		}
		until := b.Snapshot().EjectedUntil
		close(c.crash)
		synctest.Wait()
		// Restarted after its backoff, still ejected, and the ejection
		// still ends on time.
		time.Sleep(time.Until(until) + time.Millisecond)
		synctest.Wait()
		if got := b.Snapshot(); got.State != messages.Unhealthy || got.Ejections != 1 {
			t.Fatalf("after restart and expiry: state %v ejections %d, want unhealthy and 1", got.State, got.Ejections)
		}
		s.Shutdown()
	})
}
