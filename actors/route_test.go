package actors

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
)

func newTestRoute(balancing proxyconf.Balancing, n int, weights ...int) *Route {
	rc := &proxyconf.Route{PathPrefix: "/api", Balancing: balancing, Health: testHealth(), Retry: proxyconf.Default().Retry}
	bs := make([]*Backend, n)
	for i := range bs {
		url := fmt.Sprintf("http://127.0.0.1:%d", 3001+i)
		bs[i] = NewBackend(url, testHealth(), quiet)
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		rc.Backends = append(rc.Backends, proxyconf.Backend{URL: url, Weight: w})
	}
	return NewRoute(rc, bs, nil)
}

// runWired runs r and its backend actors, each backend subscribed to r,
// and returns a function that stops them all.
func runWired(t *testing.T, r *Route) func() {
	t.Helper()
	stops := []func(){run(t, r)}
	for i, b := range r.backends {
		stops = append(stops, run(t, b))
		if err := b.Subscribe(context.Background(), r, i); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

var testSettings = &RouteSettings{MaxEjectedPercent: 50, BudgetPercent: 20, MinRetryConcurrency: 3}

func TestPickSequence(t *testing.T) {
	cases := []struct {
		name      string
		balancing proxyconf.Balancing
		n         int
		out       []int // indexes out of rotation
		avoid     int
		want      []int // picks in order; -1 means no backend
	}{
		{"round robin rotates", proxyconf.RoundRobin, 3, nil, -1, []int{0, 1, 2, 0, 1, 2}},
		{"round robin skips out of rotation", proxyconf.RoundRobin, 3, []int{1}, -1, []int{0, 2, 0, 2}},
		{"round robin avoids the last backend", proxyconf.RoundRobin, 3, nil, 0, []int{1, 2, 1, 2}},
		{"avoid is used when it is the only one", proxyconf.RoundRobin, 3, []int{1, 2}, 0, []int{0, 0}},
		{"first healthy sticks to the first", proxyconf.FirstHealthy, 3, nil, -1, []int{0, 0, 0}},
		{"first healthy moves past an out backend", proxyconf.FirstHealthy, 3, []int{0}, -1, []int{1, 1}},
		{"first healthy avoids for a retry", proxyconf.FirstHealthy, 3, nil, 0, []int{1, 1}},
		{"none in rotation", proxyconf.RoundRobin, 2, []int{0, 1}, -1, []int{-1, -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newRouteState(newTestRoute(c.balancing, c.n))
			for _, i := range c.out {
				st.setIn(i, false, time.Time{})
			}
			for k, want := range c.want {
				rep := st.pick(messages.PickRequest{Avoid: c.avoid}, testSettings)
				got := rep.Index
				if !rep.OK {
					got = -1
				}
				if got != want {
					t.Fatalf("pick %d = %d, want %d (sequence %v)", k, got, want, c.want)
				}
			}
		})
	}
}

func TestMayEjectKeepsHalfThePool(t *testing.T) {
	cases := []struct {
		n, percent int
		wantOut    int // most backends passive ejection may take out
	}{
		{1, 50, 0}, {2, 50, 1}, {3, 50, 1}, {4, 50, 2}, {10, 50, 5}, {4, 100, 4}, {4, 0, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d backends at %d%%", c.n, c.percent), func(t *testing.T) {
			st := newRouteState(newTestRoute(proxyconf.RoundRobin, c.n))
			granted := 0
			for i := 0; i < c.n; i++ {
				if st.mayEject(i, c.percent) {
					granted++
				}
			}
			if granted != c.wantOut {
				t.Fatalf("granted %d ejections, want %d", granted, c.wantOut)
			}
			if len(st.inList) != c.n-c.wantOut {
				t.Fatalf("in rotation %d, want %d", len(st.inList), c.n-c.wantOut)
			}
		})
	}
}

func TestInflightCounts(t *testing.T) {
	st := newRouteState(newTestRoute(proxyconf.FirstHealthy, 2))
	st.pick(messages.PickRequest{Avoid: -1}, testSettings)
	st.pick(messages.PickRequest{Avoid: -1}, testSettings)
	st.release(messages.Release{Index: 0})
	st.release(messages.Release{Index: 1}) // never picked: must not go negative
	if st.inflight[0] != 1 || st.inflight[1] != 0 {
		t.Fatalf("inflight = %v, want [1 0]", st.inflight)
	}
}

// TestHalfPoolRuleAcrossActors runs real backend actors under their route:
// both backends of a 2-backend route fail, only one is ejected.
func TestHalfPoolRuleAcrossActors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRoute(proxyconf.RoundRobin, 2)
		defer runWired(t, r)()
		for range 5 {
			for _, b := range r.backends {
				b.Report(fail)
			}
			synctest.Wait()
		}
		ejected := 0
		for _, b := range r.backends {
			if b.Snapshot().State == messages.Ejected {
				ejected++
			}
		}
		if ejected != 1 {
			t.Fatalf("ejected %d of 2 backends, want 1", ejected)
		}
		// The route's own view agrees with the snapshots, and it picks
		// only the backend left in rotation.
		var healthy int
		view := r.InRotation()
		for i, b := range r.backends {
			if b.Snapshot().InRotation() {
				healthy = i
			}
			if len(view) != 2 || view[i] != b.Snapshot().InRotation() {
				t.Fatalf("route's rotation view %v disagrees with backend %d's snapshot", view, i)
			}
		}
		for range 4 {
			i, ok, err := r.Pick(context.Background(), newReply(), -1, 0, false, false)
			if err != nil || !ok || i != healthy {
				t.Fatalf("Pick = %d, %v, %v; want %d", i, ok, err, healthy)
			}
			r.Release(i)
		}
	})
}

// TestActiveFailuresEmptyThePool: probes may take every backend out, and
// then picks fail at once.
func TestActiveFailuresEmptyThePool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRoute(proxyconf.RoundRobin, 2)
		defer runWired(t, r)()
		for _, b := range r.backends {
			play(t, b, repeat(probe(failing), 3))
		}
		start := time.Now()
		if _, ok, err := r.Pick(context.Background(), newReply(), -1, 0, false, false); ok || err != nil {
			t.Fatalf("Pick with every backend out = ok %v err %v, want no backend", ok, err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("Pick waited %v with no backend in rotation", time.Since(start))
		}
	})
}

func TestRetiredRouteAnswersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRoute(proxyconf.RoundRobin, 1)
		r.Retire()
		if _, _, err := r.Pick(context.Background(), newReply(), -1, 0, false, false); err != ErrRetired {
			t.Fatalf("Pick on a retired route: err = %v, want ErrRetired", err)
		}
		r.Release(0) // must not block
	})
}

// TestEveryMessageWakesTheActor: the actor waits on its doorbell, not on
// its mailboxes, so a message whose sender forgot to ring, or a ring lost
// while the actor was busy, would sit unread. Many pickers, releasers and
// rotation changes at once must all be answered, and every in-flight count
// must come back to zero.
func TestEveryMessageWakesTheActor(t *testing.T) {
	r := newTestRoute(proxyconf.LeastRequests, 3)
	defer run(t, r)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const pickers, rounds = 8, 2000
	finished := make(chan error, pickers+1)
	for range pickers {
		go func() {
			reply := newReply()
			for range rounds {
				idx, ok, err := r.Pick(ctx, reply, -1, 0, false, false)
				if err != nil {
					finished <- err
					return
				}
				if ok {
					r.Release(idx)
				}
				if r.MayRetry(ctx) {
					r.ReleaseRetry(false)
				}
			}
			finished <- nil
		}()
	}
	go func() {
		for i := range rounds {
			r.rotation(ctx, messages.Rotation{Index: i % 3, In: i%2 == 1})
		}
		finished <- nil
	}()
	for range pickers + 1 {
		select {
		case err := <-finished:
			if err != nil {
				t.Fatalf("a pick was not answered: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("pickers still waiting after 20 s: a message did not wake the actor")
		}
	}
	for {
		tokens, _ := r.RetryLoad()
		in := r.Inflight()
		if in[0]+in[1]+in[2] == 0 && tokens == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("in flight %v and %d retry tokens after every release: releases left unread", in, tokens)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkPickRoundTrip measures one pick and its release through a running
// route actor, as the request path does it.
func BenchmarkPickRoundTrip(b *testing.B) {
	r := newTestRoute(proxyconf.RoundRobin, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	reply := newReply() // kept, as a client connection keeps its own
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx, ok, err := r.Pick(ctx, reply, -1, 0, false, false)
		if err != nil || !ok {
			b.Fatal("no pick")
		}
		r.Release(idx)
	}
}

// BenchmarkPickRoundTripParallel is the same with many requests at once.
func BenchmarkPickRoundTripParallel(b *testing.B) {
	r := newTestRoute(proxyconf.RoundRobin, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		reply := newReply()
		for pb.Next() {
			idx, ok, err := r.Pick(ctx, reply, -1, 0, false, false)
			if err != nil || !ok {
				b.Error("no pick")
				return
			}
			r.Release(idx)
		}
	})
}

func TestRetryBudget(t *testing.T) {
	cases := []struct {
		name                        string
		inflight, retrying, retries int // attempts in flight, of them under a token, tokens out
		budget, min                 int
		want                        bool
	}{
		{"min concurrency always allowed", 0, 0, 2, 20, 3, true},
		{"past min with nothing in flight", 0, 0, 3, 20, 3, false},
		{"within budget", 100, 0, 10, 20, 3, true},
		{"budget binds", 100, 0, 25, 20, 3, false},
		{"retry attempts are not counted twice", 100, 20, 21, 20, 3, false},
		{"retries in backoff count as requests", 0, 0, 50, 100, 0, true},
		{"zero budget leaves the minimum", 1000, 0, 2, 0, 3, true},
		{"zero budget and zero minimum", 1000, 0, 0, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newRouteState(newTestRoute(proxyconf.RoundRobin, 1))
			st.total, st.retrying, st.retries = c.inflight, c.retrying, c.retries
			s := &RouteSettings{BudgetPercent: c.budget, MinRetryConcurrency: c.min}
			if got := st.mayRetry(s); got != c.want {
				t.Fatalf("mayRetry with %d in flight (%d retrying), %d tokens out = %v, want %v",
					c.inflight, c.retrying, c.retries, got, c.want)
			}
		})
	}
}

func TestStoppedRouteRetiresItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRoute(proxyconf.RoundRobin, 1)
		stop := run(t, r)
		stop()
		if _, _, err := r.Pick(context.Background(), newReply(), -1, 0, false, false); err != ErrRetired {
			t.Fatalf("Pick after the actor stopped: err = %v, want ErrRetired", err)
		}
	})
}

// TestRouteRestartKeepsCountsAndAnswers: a route actor that panics while
// answering a question still answers it (a refusal), and the run that
// replaces it remembers the attempts and retry tokens still out.
func TestRouteRestartKeepsCountsAndAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRoute(proxyconf.RoundRobin, 2)
		ctx, cancel := context.WithCancel(context.Background())
		panics := make(chan any, 4)
		stopped := make(chan struct{})
		go func() { // the supervisor in miniature: run again after a panic
			defer close(stopped)
			for ctx.Err() == nil {
				func() {
					defer func() {
						if v := recover(); v != nil {
							panics <- v
						}
					}()
					_ = r.Run(ctx)
				}()
			}
		}()
		for range 2 {
			if _, ok, err := r.Pick(ctx, newReply(), -1, 0, false, false); !ok || err != nil {
				t.Fatalf("Pick = %v, %v", ok, err)
			}
		}
		if !r.MayRetry(ctx) {
			t.Fatal("MayRetry refused the first token")
		}
		// With its settings gone, the next ejection question panics the
		// actor in the middle of answering.
		good := r.settings.Load()
		r.settings.Store(nil)
		if r.askEject(ctx, 0) {
			t.Fatal("a panicking actor granted an ejection")
		}
		<-panics
		r.settings.Store(good)
		if in := r.Inflight(); len(in) != 2 || in[0]+in[1] != 2 {
			t.Errorf("after the restart: in flight %v, want the 2 attempts still out", in)
		}
		if tokens, _ := r.RetryLoad(); tokens != 1 {
			t.Errorf("after the restart: %d retry tokens out, want 1", tokens)
		}
		cancel()
		<-stopped
	})
}

// TestBackendRestartRetellsItsRoute: a backend actor run again after a
// panic tells its route where it stands, since the route may have acted on
// something the backend never recorded (here: an ejection it granted).
func TestBackendRestartRetellsItsRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := newTestRoute(proxyconf.RoundRobin, 2)
		stopRoute := run(t, r)
		defer stopRoute()
		b := r.backends[0]
		stop := run(t, b)
		if err := b.Subscribe(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.rotation(ctx, messages.Rotation{Index: 0, In: false})
		synctest.Wait()
		if in := r.InRotation(); in[0] {
			t.Fatalf("rotation %v: the route did not take backend 0 out", in)
		}
		stop() // the actor dies before recording the ejection
		defer run(t, b)()
		synctest.Wait()
		if in := r.InRotation(); !in[0] {
			t.Fatalf("rotation %v after the restart: backend 0, healthy by its snapshot, is still out", in)
		}
	})
}

// newReply makes a pick's reply channel.
func newReply() chan messages.PickReply { return make(chan messages.PickReply, 1) }
