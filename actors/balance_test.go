package actors

import (
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"ferrum/messages"
	"ferrum/proxyconf"
)

func pickN(st *routeState, n int, s *RouteSettings, req messages.PickRequest) []int {
	counts := make([]int, len(st.in))
	for k := 0; k < n; k++ {
		rep := st.pick(req, s)
		counts[rep.Index]++
		st.release(messages.Release{Index: rep.Index})
	}
	return counts
}

func TestWeightedRoundRobinIsSmooth(t *testing.T) {
	cases := [][]int{{3, 1}, {5, 1, 1}, {1, 2, 3, 4}, {100, 1}}
	for _, w := range cases {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			st := newRouteState(newTestRoute(proxyconf.RoundRobin, len(w), w...))
			const n = 10000
			sum, heavy, others := 0, 0, 0
			for i, x := range w {
				sum += x
				if x > w[heavy] {
					heavy = i
				}
			}
			others = sum - w[heavy]
			counts := make([]int, len(w))
			run, longest := 0, 0
			for k := 0; k < n; k++ {
				i := st.pick(messages.PickRequest{Avoid: -1}, testSettings).Index
				st.release(messages.Release{Index: i})
				counts[i]++
				if i == heavy {
					run++
					longest = max(longest, run)
				} else {
					run = 0
				}
			}
			for i, x := range w {
				want := float64(n) * float64(x) / float64(sum)
				if math.Abs(float64(counts[i])-want) > 0.01*n {
					t.Errorf("backend %d (weight %d): %d picks, want %.0f ± 1%%", i, x, counts[i], want)
				}
			}
			// The ideal spacing puts w[heavy]/others heavy picks between two
			// others; smooth WRR never exceeds that by more than one.
			if limit := int(math.Ceil(float64(w[heavy])/float64(others))) + 1; longest > limit {
				t.Errorf("heavy backend got %d picks in a row, want at most %d", longest, limit)
			}
		})
	}
}

func TestLeastRequestsAvoidsASlowBackend(t *testing.T) {
	st := newRouteState(newTestRoute(proxyconf.LeastRequests, 4))
	// Backend 0 holds each attempt for 20 picks, the others for 2.
	type held struct{ idx, until int }
	var out []held
	counts := make([]int, 4)
	for k := 0; k < 10000; k++ {
		kept := out[:0]
		for _, h := range out {
			if h.until <= k {
				st.release(messages.Release{Index: h.idx})
			} else {
				kept = append(kept, h)
			}
		}
		out = kept
		i := st.pick(messages.PickRequest{Avoid: -1}, testSettings).Index
		counts[i]++
		d := 2
		if i == 0 {
			d = 20
		}
		out = append(out, held{i, k + d})
	}
	for i := 1; i < 4; i++ {
		if counts[0] >= counts[i]/2 {
			t.Fatalf("picks %v: the slow backend 0 got %d, want well under the others", counts, counts[0])
		}
	}
	t.Logf("picks with backend 0 slow: %v", counts)
}

func TestLeastRequestsHonoursWeights(t *testing.T) {
	st := newRouteState(newTestRoute(proxyconf.LeastRequests, 2, 3, 1))
	// Keep 8 attempts in flight, releasing the oldest each step.
	var fifo []int
	counts := make([]int, 2)
	for k := 0; k < 10000; k++ {
		if len(fifo) == 8 {
			st.release(messages.Release{Index: fifo[0]})
			fifo = fifo[1:]
		}
		i := st.pick(messages.PickRequest{Avoid: -1}, testSettings).Index
		counts[i]++
		fifo = append(fifo, i)
	}
	if ratio := float64(counts[0]) / float64(counts[1]); ratio < 2 {
		t.Fatalf("picks %v: weight 3 vs 1 gave ratio %.2f, want clearly above 2", counts, ratio)
	}
}

func TestConsistentHashMovesOnlyTheLeavingBackendsKeys(t *testing.T) {
	for _, weights := range [][]int{{1, 1, 1, 1, 1}, {1, 2, 3, 1, 2}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			st := newRouteState(newTestRoute(proxyconf.ConsistentHash, 5, weights...))
			const keys = 10000
			owner := func() []int {
				o := make([]int, keys)
				for k := range o {
					h := mix64(uint64(k) + 1)
					o[k] = st.pick(messages.PickRequest{Avoid: -1, Hash: h, HasHash: true}, testSettings).Index
					st.release(messages.Release{Index: o[k]})
				}
				return o
			}
			before := owner()
			st.setIn(2, false, time.Time{})
			during := owner()
			st.setIn(2, true, time.Time{})
			after := owner()
			stayed, moved := 0, 0
			for k := range before {
				switch {
				case before[k] == 2 && during[k] == 2:
					t.Fatalf("key %d stayed on the backend that left", k)
				case before[k] == 2:
					moved++
				case during[k] == before[k]:
					stayed++
				default:
					t.Fatalf("key %d moved from %d to %d though its backend stayed", k, before[k], during[k])
				}
				if after[k] != before[k] {
					t.Fatalf("key %d: %d before, %d after the backend returned", k, before[k], after[k])
				}
			}
			if float64(stayed)/float64(keys-moved) < 0.99 {
				t.Fatalf("only %d of %d unrelated keys stayed", stayed, keys-moved)
			}
			total := 0
			for _, w := range weights {
				total += w
			}
			if want := float64(keys*weights[2]) / float64(total); math.Abs(float64(moved)-want) > 0.1*want {
				t.Errorf("backend 2 (weight %d) owned %d keys, want about %.0f", weights[2], moved, want)
			}
		})
	}
}

func TestConsistentHashWithoutKeyFallsBack(t *testing.T) {
	st := newRouteState(newTestRoute(proxyconf.ConsistentHash, 3))
	counts := pickN(st, 3000, testSettings, messages.PickRequest{Avoid: -1})
	for i, c := range counts {
		if c < 500 {
			t.Fatalf("picks without a key %v: backend %d starved", counts, i)
		}
	}
}

func TestSlowStartRamps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &RouteSettings{MaxEjectedPercent: 50, SlowStart: 10 * time.Second}
		rr := newRouteState(newTestRoute(proxyconf.RoundRobin, 2))
		lr := newRouteState(newTestRoute(proxyconf.LeastRequests, 2))
		start := time.Now()
		for _, st := range []*routeState{rr, lr} {
			st.setIn(1, false, time.Time{})
			st.setIn(1, true, start)
		}
		var lrShares []float64
		for _, at := range []time.Duration{0, 5 * time.Second, 10 * time.Second, 20 * time.Second} {
			time.Sleep(time.Until(start.Add(at)))
			// Round robin follows the ramp exactly, and least_requests
			// between idle backends closely: share 10% -> 100% of the
			// weight, linearly.
			f := 0.1 + 0.9*math.Min(1, at.Seconds()/10)
			want := f / (1 + f)
			got := float64(pickN(rr, 10000, s, messages.PickRequest{Avoid: -1})[1]) / 10000
			if math.Abs(got-want) > 0.01 {
				t.Errorf("round robin at +%v: returning backend got %.3f of picks, want %.3f", at, got, want)
			}
			got = float64(pickN(lr, 10000, s, messages.PickRequest{Avoid: -1})[1]) / 10000
			if math.Abs(got-want) > 0.02 {
				t.Errorf("least_requests, idle, at +%v: returning backend got %.3f of picks, want %.3f", at, got, want)
			}
			lrShares = append(lrShares, loadedShare(lr, s))
		}
		// Under load too the share follows the ramp while it lasts.
		if math.Abs(lrShares[0]-0.1/1.1) > 0.02 || lrShares[3] < 0.45 {
			t.Errorf("least_requests shares under load along the ramp %v, want from 0.09 to about 0.5", lrShares)
		}
		for k := 1; k < 3; k++ {
			if lrShares[k] <= lrShares[k-1] {
				t.Errorf("least_requests shares along the ramp %v, want them growing", lrShares)
			}
		}
	})
}

// loadedShare is backend 1's share of 10k least_requests picks with eight
// attempts always in flight.
func loadedShare(st *routeState, s *RouteSettings) float64 {
	var fifo []int
	n := 0
	for k := 0; k < 10000; k++ {
		if len(fifo) == 8 {
			st.release(messages.Release{Index: fifo[0]})
			fifo = fifo[1:]
		}
		i := st.pick(messages.PickRequest{Avoid: -1}, s).Index
		if i == 1 {
			n++
		}
		fifo = append(fifo, i)
	}
	for _, i := range fifo {
		st.release(messages.Release{Index: i})
	}
	return float64(n) / 10000
}

func BenchmarkConsistentHashPick(b *testing.B) {
	for _, n := range []int{4, 100} {
		for _, weighted := range []bool{false, true} {
			b.Run(fmt.Sprintf("backends=%d/weighted=%v", n, weighted), func(b *testing.B) {
				w := make([]int, n)
				for i := range w {
					w[i] = 1
					if weighted {
						w[i] = 1 + i%3
					}
				}
				st := newRouteState(newTestRoute(proxyconf.ConsistentHash, n, w...))
				b.ReportAllocs()
				h := uint64(12345)
				for i := 0; i < b.N; i++ {
					h = mix64(h)
					rep := st.pick(messages.PickRequest{Avoid: -1, Hash: h, HasHash: true}, testSettings)
					st.release(messages.Release{Index: rep.Index})
				}
			})
		}
	}
}

// TestLeastRequestsSplitsTiesByWeight: between equally loaded backends the
// draw follows the weights, so at low load weight 3 gets three picks in four.
func TestLeastRequestsSplitsTiesByWeight(t *testing.T) {
	st := newRouteState(newTestRoute(proxyconf.LeastRequests, 2, 3, 1))
	got := float64(pickN(st, 10000, testSettings, messages.PickRequest{Avoid: -1})[0]) / 10000
	if math.Abs(got-0.75) > 0.02 {
		t.Fatalf("idle backends of weights 3 and 1: the heavy one got %.3f of picks, want 0.75", got)
	}
}

func TestLeastRequestsFormula(t *testing.T) {
	cases := []struct {
		name     string
		weights  []int
		inflight []int
		want     int
	}{
		{"fewer in flight wins", []int{1, 1}, []int{3, 1}, 1},
		{"per unit of weight", []int{3, 1}, []int{2, 1}, 0},
		{"an idle light backend beats a busy heavy one", []int{3, 1}, []int{2, 0}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newRouteState(newTestRoute(proxyconf.LeastRequests, 2, c.weights...))
			copy(st.inflight, c.inflight)
			// With two backends the two choices are always both of them.
			for k := 0; k < 10; k++ {
				if got := st.leastRequests(-1, time.Time{}, 0); got != c.want {
					t.Fatalf("picked %d with weights %v and in flight %v, want %d", got, c.weights, c.inflight, c.want)
				}
			}
		})
	}
}
