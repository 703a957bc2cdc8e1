package actors

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cespare/xxhash/v2"

	"ferrum/messages"
	"ferrum/proxyconf"
)

// fullShare is a backend's weight multiplier once slow start is over; a
// backend that just returned starts at a tenth of it.
const (
	fullShare  = 100
	startShare = 10
)

// routeState is a route actor's private state: which backends are in
// rotation, how many attempts each has in flight, and what each balancing
// strategy remembers between picks.
type routeState struct {
	balancing proxyconf.Balancing
	weights   []int
	uniform   bool     // every weight the same: cheaper paths apply
	seeds     []uint64 // per backend, mixed into consistent-hash keys

	in       []bool
	inList   []int       // indexes in rotation, ascending
	inSince  []time.Time // when each entered rotation; zero: full share
	joined   []time.Time // when a reload added each to this route; zero: not recently
	inflight []int
	total    int // sum of inflight
	retries  int // retry tokens out, backoff included
	retrying int // attempts in flight made under a token

	cursor  int   // round robin without weights
	current []int // smooth weighted round robin
	rng     *rand.Rand

	view *RouteView // published after each change

	// The reply channel of the pick or question being handled, answered
	// by Route.end when a panic cuts the handling short.
	pendingPick chan messages.PickReply
	pendingAsk  chan bool
}

func newRouteState(r *Route) *routeState {
	n := len(r.backends)
	st := &routeState{
		balancing: r.balancing, weights: r.weights, uniform: true,
		seeds: make([]uint64, n), in: make([]bool, n), inSince: make([]time.Time, n), joined: r.joined,
		inflight: make([]int, n), current: make([]int, n),
		rng:  rand.New(rand.NewPCG(xxhash.Sum64String(r.prefix), 0x9e3779b97f4a7c15)),
		view: &r.view,
	}
	for i, b := range r.backends {
		st.seeds[i] = xxhash.Sum64String(b.URL())
		if r.weights[i] != r.weights[0] {
			st.uniform = false
		}
		if s := b.Snapshot(); s.InRotation() {
			st.in[i] = true
			st.inSince[i] = s.InSince
		}
	}
	st.rebuild()
	return st
}

// publishAll publishes the whole state to the view.
func (st *routeState) publishAll() {
	for i := range st.in {
		st.view.in[i].Store(st.in[i])
		st.view.inflight[i].Store(int64(st.inflight[i]))
	}
	st.view.retries.Store(int64(st.retries))
	st.view.retrying.Store(int64(st.retrying))
}

func (st *routeState) rebuild() {
	st.inList = st.inList[:0]
	for i, in := range st.in {
		if in {
			st.inList = append(st.inList, i)
		}
	}
}

func (st *routeState) setIn(i int, in bool, since time.Time) {
	if i < 0 || i >= len(st.in) {
		return
	}
	if in {
		st.inSince[i] = since
	}
	if st.in[i] == in {
		return
	}
	st.in[i] = in
	st.view.in[i].Store(in)
	st.current[i] = 0
	st.rebuild()
}

// mayEject answers a backend's request to leave rotation on passive
// evidence: refused when more than floor(N × percent / 100) backends would be
// out. A granted ejection takes the backend out at once, so two backends
// asking together cannot both slip under the cap.
func (st *routeState) mayEject(i, percent int) bool {
	if i < 0 || i >= len(st.in) || !st.in[i] {
		return false
	}
	n := len(st.in)
	out := n - len(st.inList)
	if out+1 > n*percent/100 {
		return false
	}
	st.setIn(i, false, time.Time{})
	return true
}

// mayRetry grants a retry token while retries in flight, those waiting out
// their backoff included, stay within max(min_retry_concurrency,
// budget_percent of the route's requests in flight). A request is in flight
// on its first attempt, or holding a token; the asker itself counts too.
func (st *routeState) mayRetry(s *RouteSettings) bool {
	requests := max(st.total-st.retrying, 0) + st.retries + 1
	if st.retries+1 > max(s.MinRetryConcurrency, requests*s.BudgetPercent/100) {
		return false
	}
	st.retries++
	st.view.retries.Store(int64(st.retries))
	return true
}

func (st *routeState) release(m messages.Release) {
	if m.Token {
		st.retries = max(st.retries-1, 0)
		st.view.retries.Store(int64(st.retries))
		if m.Picked {
			st.retrying = max(st.retrying-1, 0)
			st.view.retrying.Store(int64(st.retrying))
		}
		return
	}
	if i := m.Index; i >= 0 && i < len(st.inflight) && st.inflight[i] > 0 {
		st.inflight[i]--
		st.total--
		st.view.inflight[i].Store(int64(st.inflight[i]))
	}
}

// pick chooses a backend in rotation without allocating. Avoid is skipped
// when any other backend is in rotation.
func (st *routeState) pick(req messages.PickRequest, s *RouteSettings) messages.PickReply {
	if len(st.inList) == 0 {
		return messages.PickReply{}
	}
	var now time.Time
	if s.SlowStart > 0 {
		now = time.Now()
	}
	var i int
	switch {
	case len(st.inList) == 1:
		i = st.inList[0]
	case st.balancing == proxyconf.FirstHealthy:
		i = st.firstIn(0, req.Avoid)
	case st.balancing == proxyconf.ConsistentHash && req.HasHash:
		i = st.rendezvous(req.Hash, req.Avoid, now, s.SlowStart)
	case st.balancing == proxyconf.LeastRequests || st.balancing == proxyconf.ConsistentHash:
		i = st.leastRequests(req.Avoid, now, s.SlowStart)
	case st.uniform && !st.ramping(now, s.SlowStart):
		i = st.firstIn(st.cursor, req.Avoid)
		st.cursor = i + 1
		if st.cursor == len(st.in) {
			st.cursor = 0
		}
	default:
		i = st.smooth(req.Avoid, now, s.SlowStart)
	}
	st.inflight[i]++
	st.total++
	st.view.inflight[i].Store(int64(st.inflight[i]))
	if req.Retry {
		st.retrying++
		st.view.retrying.Store(int64(st.retrying))
	}
	return messages.PickReply{Index: i, OK: true}
}

// share is backend i's effective weight, scaled by fullShare: during slow
// start it grows linearly from a tenth of the weight to all of it.
func (st *routeState) share(i int, now time.Time, window time.Duration) int {
	w := st.weights[i] * fullShare
	since := st.since(i)
	if window <= 0 || since.IsZero() {
		return w
	}
	el := now.Sub(since)
	if el >= window {
		return w
	}
	if el < 0 {
		el = 0
	}
	f := startShare + int(int64(fullShare-startShare)*int64(el)/int64(window))
	return st.weights[i] * f
}

// ramping reports whether any backend in rotation is still in slow start.
func (st *routeState) ramping(now time.Time, window time.Duration) bool {
	if window <= 0 {
		return false
	}
	for _, i := range st.inList {
		if s := st.since(i); !s.IsZero() && now.Sub(s) < window {
			return true
		}
	}
	return false
}

// since is when backend i's slow start began: when it last entered
// rotation, or when a reload added it to this route, whichever is later;
// zero when it has been in from the start.
func (st *routeState) since(i int) time.Time {
	s := st.inSince[i]
	if j := st.joined[i]; j.After(s) {
		return j
	}
	return s
}

// skip reports whether i must be passed over: it is avoid and another
// backend is in rotation.
func (st *routeState) skip(i, avoid int) bool {
	return i == avoid && len(st.inList) > 1
}

// firstIn returns the first backend in rotation at or after start (wrapping),
// other than avoid unless avoid is the only one.
func (st *routeState) firstIn(start, avoid int) int {
	n := len(st.in)
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if st.in[i] && !st.skip(i, avoid) {
			return i
		}
	}
	return st.inList[0]
}

// smooth is smooth weighted round robin: each pick adds every backend's
// share to its running total and takes the largest, which then gives back
// the sum. The heavy backend's picks spread evenly instead of bunching.
func (st *routeState) smooth(avoid int, now time.Time, window time.Duration) int {
	best, sum := -1, 0
	for _, i := range st.inList {
		if st.skip(i, avoid) {
			continue
		}
		w := st.share(i, now, window)
		st.current[i] += w
		sum += w
		if best < 0 || st.current[i] > st.current[best] {
			best = i
		}
	}
	st.current[best] -= sum
	return best
}

// leastRequests takes two different random backends in rotation and picks
// the one with fewer attempts in flight per unit of share (power of two
// choices). Between two equally loaded backends (idle ones, say) it draws in
// proportion to their shares, so weights count at any load (exactly with two
// backends; with more, the pair itself is drawn evenly, which evens out
// shares between idle backends somewhat). A pair with a
// backend still in slow start is drawn by share alone: the comparison would
// hand an idle returning backend every pick its rival is busy for, whatever
// its ramp says.
func (st *routeState) leastRequests(avoid int, now time.Time, window time.Duration) int {
	cand := st.inList
	pa, pb := st.rng.IntN(len(cand)), st.rng.IntN(len(cand)-1)
	if pb >= pa {
		pb++ // two different positions, each pair equally likely
	}
	a, b := cand[pa], cand[pb]
	switch {
	case st.skip(a, avoid):
		return b
	case st.skip(b, avoid):
		return a
	}
	sa, sb := st.share(a, now, window), st.share(b, now, window)
	if sa == st.weights[a]*fullShare && sb == st.weights[b]*fullShare {
		// inflight/share compared without division.
		la, lb := st.inflight[a]*sb, st.inflight[b]*sa
		switch {
		case la < lb:
			return a
		case lb < la:
			return b
		}
	}
	if st.rng.IntN(sa+sb) < sa {
		return a
	}
	return b
}

// rendezvous maps a key hash to a backend by highest random weight: each
// backend scores the key by mixing it with its own seed; weights scale the
// score as -w/ln(u). A key moves only when its backend leaves or returns.
func (st *routeState) rendezvous(h uint64, avoid int, now time.Time, window time.Duration) int {
	best := -1
	var bestScore float64
	var bestRaw uint64
	weighted := !st.uniform || st.ramping(now, window)
	for _, i := range st.inList {
		if st.skip(i, avoid) {
			continue
		}
		raw := mix64(h ^ st.seeds[i])
		if !weighted {
			if best < 0 || raw > bestRaw {
				best, bestRaw = i, raw
			}
			continue
		}
		u := (float64(raw>>11) + 0.5) / (1 << 53)
		w := float64(st.share(i, now, window))
		// -ln(u) >= 1-u, so w/(1-u) bounds the score from above: most
		// backends lose without paying for the logarithm.
		if best >= 0 && w/(1-u) <= bestScore {
			continue
		}
		score := w / -math.Log(u)
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// mix64 is a 64-bit finalizer (from MurmurHash3): every input bit affects
// every output bit, so per-backend scores of one key are independent.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
