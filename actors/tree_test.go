package actors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
	"ferrum/supervisor"
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

func routeConf(prefix string, backends ...string) string {
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

// startTree starts cfg's actors under a supervisor of their own; stop
// stops everything.
func startTree(t *testing.T, cfg *proxyconf.Config) (tree *Tree, stop func()) {
	t.Helper()
	sup := supervisor.New(quiet, supervisor.DefaultPolicy)
	tree, err := StartTree(context.Background(), sup, quiet, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tree, func() { tree.Stop(); sup.Shutdown() }
}

// reload prepares and commits cfg over tree.
func reload(t *testing.T, tree *Tree, cfg *proxyconf.Config) (*Tree, Changes) {
	t.Helper()
	rl, err := tree.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rl.Commit()
	return rl.Next, rl.Changes
}

func TestReloadKeepsWhatStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		old, stop := startTree(t, parse(t, routeConf("/api", u1, u2), routeConf("/gone", u3), routeConf("/same", u1)))
		defer stop()
		next, ch := reload(t, old, parse(t, routeConf("/api", u2, u3), routeConf("/same", u1), routeConf("/new", u1)))
		api := next.Routes()[0]
		if api.Backend(0) != old.Routes()[0].Backend(1) {
			t.Errorf("/api %s: kept backend got a new actor", u2)
		}
		if api.Actor() == old.Routes()[0].Actor() {
			t.Errorf("/api: backend list changed but the route actor was kept")
		}
		if next.Routes()[1].Actor() != old.Routes()[2].Actor() {
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
		if _, _, err := old.Routes()[0].Actor().Pick(ctx, newReply(), -1, 0, false, false); err != ErrRetired {
			t.Errorf("old route actor Pick err = %v, want ErrRetired", err)
		}
		seen := map[int]bool{}
		for range 4 {
			i, ok, err := api.Actor().Pick(ctx, newReply(), -1, 0, false, false)
			if err != nil || !ok {
				t.Fatalf("new /api Pick: %v %v", ok, err)
			}
			api.Actor().Release(i)
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
		weighted := fmt.Sprintf("[[route]]\npath_prefix = \"/w\"\nbackends = [{ url = %q, weight = 3 }, %q]\n", u1, u2)
		old, stop := startTree(t, parse(t, routeConf("/w", u1, u2), routeConf("/h", u3)))
		defer stop()
		next, ch := reload(t, old, parse(t, weighted, routeConf("/h", u3)+"[route.health]\nfailure_threshold = 9\n"))
		want := []string{"/w " + u1, "/h " + u3}
		if fmt.Sprint(ch.BackendsChanged) != fmt.Sprint(want) {
			t.Errorf("backends changed = %v, want %v", ch.BackendsChanged, want)
		}
		next.Stop()
	})
}

// TestSharedBackendOneActor: routes listing the same URL with the same
// health settings share one backend actor (and prober); other settings make
// another.
func TestSharedBackendOneActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		own := routeConf("/own", u1) + "[route.health]\nfailure_threshold = 7\n"
		tree, stop := startTree(t, parse(t, routeConf("/a", u1, u2), routeConf("/b", u1), routeConf("/c", u2, u1), own))
		defer stop()
		r := tree.Routes()
		if r[0].Backend(0) != r[1].Backend(0) || r[0].Backend(0) != r[2].Backend(1) {
			t.Errorf("%s: /a, /b and /c have different backend actors, want one", u1)
		}
		if r[3].Backend(0) == r[0].Backend(0) {
			t.Errorf("%s: /own (other health settings) shares /a's actor", u1)
		}
		if got := tree.BackendCount(); got != 3 {
			t.Errorf("backend actors = %d, want 3 (u1, u2, u1 under /own's health)", got)
		}
	})
}

// failUntilSettled reports n passive failures to b, letting the actors
// settle after each.
func failUntilSettled(b *Backend, n int) {
	for range n {
		b.Report(fail)
		synctest.Wait()
	}
}

// TestSharedEjectionNeedsEveryRoute: a shared backend is ejected only when
// every route that lists it allows it; a route that allowed puts it back
// when another refuses.
func TestSharedEjectionNeedsEveryRoute(t *testing.T) {
	cases := []struct {
		name        string
		routes      []string
		wantEjected bool
	}{
		// /a (2 backends) may lose one; /b (1 backend) may lose none.
		{"one route refuses", []string{routeConf("/a", u1, u2), routeConf("/b", u1)}, false},
		{"refusing route first", []string{routeConf("/b", u1), routeConf("/a", u1, u2)}, false},
		{"every route allows", []string{routeConf("/a", u1, u2), routeConf("/b", u1, u3)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tree, stop := startTree(t, parse(t, c.routes...))
				defer stop()
				b := tree.Routes()[0].Backend(0)
				if b.URL() != u1 {
					t.Fatalf("first backend %s, want %s", b.URL(), u1)
				}
				failUntilSettled(b, 5)
				if got := b.Snapshot().State == messages.Ejected; got != c.wantEjected {
					t.Fatalf("ejected = %v, want %v", got, c.wantEjected)
				}
				for _, n := range tree.Routes() {
					for i, in := range n.Actor().InRotation() {
						if n.Backend(i) == b && in == c.wantEjected {
							t.Errorf("route %s: %s in rotation = %v, want %v", n.Conf().PathPrefix, u1, in, !c.wantEjected)
						}
					}
				}
			})
		})
	}
}

// TestReloadAbortChangesNothing: a prepared reload that is aborted stops
// what it started and leaves the kept actors as they were.
func TestReloadAbortChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, stop := startTree(t, parse(t, routeConf("/a", u1, u2), routeConf("/b", u1)))
		defer stop()
		shared := old.Routes()[0].Backend(0)
		rl, err := old.Prepare(context.Background(), parse(t, routeConf("/a", u1, u3), routeConf("/b", u1), routeConf("/c", u1, u2)))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := len(shared.routes); got != 4 {
			t.Fatalf("%s while prepared: %d routes subscribed, want 4 (/a, /b, new /a, /c)", u1, got)
		}
		rl.Abort()
		synctest.Wait()
		if got := len(shared.routes); got != 2 {
			t.Errorf("%s after abort: %d routes subscribed, want 2", u1, got)
		}
		for _, n := range rl.Next.Routes() {
			if n.Actor() == old.Routes()[0].Actor() || n.Actor() == old.Routes()[1].Actor() {
				continue
			}
			if _, _, err := n.Actor().Pick(context.Background(), newReply(), -1, 0, false, false); err != ErrRetired {
				t.Errorf("route %s started by the aborted reload still answers: err %v", n.Conf().PathPrefix, err)
			}
		}
		// The old tree still works, with every backend it had.
		if _, ok, err := old.Routes()[0].Actor().Pick(context.Background(), newReply(), -1, 0, false, false); !ok || err != nil {
			t.Errorf("old /a after abort: Pick = %v, %v", ok, err)
		}
		// The aborted reload's own backend (u3) and its prober stopped:
		// the bubble would report them as leaked goroutines otherwise.
	})
}

// bubbleGoroutines counts the goroutines of the calling synctest bubble:
// runtime.NumGoroutine would also count those of earlier tests still
// winding down outside it.
func bubbleGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), ", synctest bubble ")
}

// TestPrepareFailureStopsWhatStarted: a reload whose actors cannot take
// their subscriptions in time fails and leaves nothing running.
func TestPrepareFailureStopsWhatStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, stop := startTree(t, parse(t, routeConf("/a", u1)))
		defer stop()
		synctest.Wait()
		before := bubbleGoroutines()
		if before == 0 {
			t.Fatal("no goroutine counted in the bubble: the count cannot see a leak")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := old.Prepare(ctx, parse(t, routeConf("/a", u1), routeConf("/b", u2, u1))); err == nil {
			t.Fatal("Prepare under a cancelled context succeeded")
		}
		synctest.Wait()
		if after := bubbleGoroutines(); after != before {
			t.Errorf("goroutines: %d before the failed reload, %d after, want no change", before, after)
		}
		if got := len(old.Routes()[0].Backend(0).routes); got != 1 {
			t.Errorf("kept backend: %d routes subscribed after the failed reload, want 1", got)
		}
	})
}

// TestHealthChangeInheritsState: a backend whose health settings a reload
// changes gets a new actor that carries on from the old one's state.
func TestHealthChangeInheritsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, stop := startTree(t, parse(t, routeConf("/a", u1, u2)))
		defer stop()
		failUntilSettled(old.Routes()[0].Backend(0), 3)
		was := old.Routes()[0].Backend(0).Snapshot()
		if was.State != messages.Ejected {
			t.Fatalf("state %v, want ejected", was.State)
		}
		next, _ := reload(t, old, parse(t, routeConf("/a", u1, u2)+"[route.health]\nfailure_threshold = 9\n"))
		defer next.Stop()
		b := next.Routes()[0].Backend(0)
		if b == old.Routes()[0].Backend(0) {
			t.Fatal("health settings changed but the backend actor was kept")
		}
		got := b.Snapshot()
		if got.State != messages.Ejected || got.Ejections != 1 || !got.EjectedUntil.Equal(was.EjectedUntil) {
			t.Errorf("new actor state %v ejections %d until %v, want ejected, 1, %v", got.State, got.Ejections, got.EjectedUntil, was.EjectedUntil)
		}
		synctest.Wait()
		if in := next.Routes()[0].Actor().InRotation(); in[0] {
			t.Errorf("route rotation %v: the inherited ejection is not in force", in)
		}
		time.Sleep(time.Until(was.EjectedUntil) + time.Millisecond)
		synctest.Wait()
		if s := b.Snapshot().State; s != messages.Unhealthy {
			t.Errorf("after the inherited ejection ran out: state %v, want unhealthy", s)
		}
	})
}

// panicOnTransition is a log handler that panics when it is told to and a
// health transition is logged: the backend actor then panics in the middle
// of handling a message, after changing its state and before publishing it.
type panicOnTransition struct {
	slog.Handler
	armed atomic.Bool
}

func (h *panicOnTransition) Handle(ctx context.Context, r slog.Record) error {
	if h.armed.Load() && r.Message == "health_transition" {
		panic("injected crash in health_transition")
	}
	return h.Handler.Handle(ctx, r)
}

// TestPanickedBackendResumesFromSnapshot: a backend actor that panics while
// it handles an outcome is restarted by the supervisor from its last
// published snapshot, and keeps its route subscriptions: its route hears of
// the ejection that the crashed run never published.
func TestPanickedBackendResumesFromSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &panicOnTransition{Handler: quiet.Handler()}
		log := slog.New(h)
		sup := supervisor.New(quiet, supervisor.DefaultPolicy)
		defer sup.Shutdown()
		tree, err := StartTree(context.Background(), sup, log, parse(t, routeConf("/a", u1, u2)))
		if err != nil {
			t.Fatal(err)
		}
		defer tree.Stop()
		b, r := tree.Routes()[0].Backend(0), tree.Routes()[0].Actor()
		failUntilSettled(b, 2)
		h.armed.Store(true)
		failUntilSettled(b, 1) // the third failure ejects; logging it panics
		if s := b.Snapshot(); s.State != messages.Healthy || s.ConsecFails != 2 {
			t.Fatalf("after the crash: snapshot %v with %d failures, want the last published: healthy, 2", s.State, s.ConsecFails)
		}
		time.Sleep(time.Second) // past the restart backoff
		synctest.Wait()
		// The route granted the ejection before the crash; the restarted
		// actor, healthy by its snapshot, tells it so.
		if in := r.InRotation(); !in[0] {
			t.Fatalf("route rotation %v after the restart: backend 0 still out", in)
		}
		h.armed.Store(false)
		failUntilSettled(b, 1)
		if s := b.Snapshot(); s.State != messages.Ejected {
			t.Fatalf("state %v after one more failure, want ejected (the restart kept the streak)", s.State)
		}
		if in := r.InRotation(); in[0] {
			t.Errorf("route rotation %v: the restarted backend's ejection did not reach its route", in)
		}
	})
}
