package actors

import (
	"ferrum/messages"
	"ferrum/proxyconf"
)

// routeState is a route actor's private state: which backends are in
// rotation, how many attempts each has in flight, and the balancing cursor.
type routeState struct {
	balancing proxyconf.Balancing
	in        []bool
	inflight  []int
	nIn       int
	cursor    int
}

func newRouteState(r *Route) *routeState {
	n := len(r.backends)
	st := &routeState{balancing: r.balancing, in: make([]bool, n), inflight: make([]int, n)}
	for i, b := range r.backends {
		if b.Snapshot().InRotation() {
			st.in[i] = true
			st.nIn++
		}
	}
	return st
}

func (st *routeState) setIn(i int, in bool) {
	if i < 0 || i >= len(st.in) || st.in[i] == in {
		return
	}
	st.in[i] = in
	if in {
		st.nIn++
	} else {
		st.nIn--
	}
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
	out := n - st.nIn
	if out+1 > n*percent/100 {
		return false
	}
	st.setIn(i, false)
	return true
}

func (st *routeState) release(i int) {
	if i >= 0 && i < len(st.inflight) && st.inflight[i] > 0 {
		st.inflight[i]--
	}
}

// pick chooses a backend in rotation, O(1) for the usual case and free of
// allocation. avoid is skipped when any other backend is in rotation.
func (st *routeState) pick(req messages.PickRequest) messages.PickReply {
	if st.nIn == 0 {
		return messages.PickReply{}
	}
	var i int
	switch st.balancing {
	case proxyconf.FirstHealthy:
		i = st.firstIn(0, req.Avoid)
	default:
		i = st.firstIn(st.cursor, req.Avoid)
		st.cursor = i + 1
		if st.cursor == len(st.in) {
			st.cursor = 0
		}
	}
	st.inflight[i]++
	return messages.PickReply{Index: i, OK: true}
}

// firstIn returns the first backend in rotation at or after start (wrapping),
// other than avoid unless avoid is the only one. nIn must be > 0.
func (st *routeState) firstIn(start, avoid int) int {
	n := len(st.in)
	fallback := -1
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if !st.in[i] {
			continue
		}
		if i == avoid {
			fallback = i
			continue
		}
		return i
	}
	return fallback
}
