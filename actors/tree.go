package actors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// BackendKey identifies one backend actor: routes that list the same URL
// with the same effective [health] settings share it, and its prober.
type BackendKey struct {
	URL    string
	Health proxyconf.Health
}

// Tree is the running actor tree for one configuration: per route a route
// actor, and per distinct backend (BackendKey) a backend actor and its
// prober. A Tree is never modified once committed: Prepare builds the next
// one beside it. Only the goroutine that owns the process's lifecycle (the
// one that starts, reloads and stops) calls Prepare, Commit, Abort and
// Stop; the accessors may be called from anywhere.
type Tree struct {
	sup      *supervisor.Supervisor
	log      *slog.Logger
	probes   *http.Client
	routes   []*RouteNode
	backends map[BackendKey]*BackendNode
}

// RouteNode is one route's running actor and its backends, read-only.
type RouteNode struct {
	conf      proxyconf.Route
	actor     *Route
	backends  []*BackendNode // in conf.Backends order
	handle    *supervisor.Handle
	unchanged bool // a reload kept the route's actor, backends and every setting
}

// Unchanged reports whether the reload that made this node kept the route
// exactly as it was: same actor, same backend actors, same settings.
func (n *RouteNode) Unchanged() bool { return n.unchanged }

// Conf is the route's resolved configuration. It must not be modified.
func (n *RouteNode) Conf() *proxyconf.Route { return &n.conf }

// Actor is the route's actor.
func (n *RouteNode) Actor() *Route { return n.actor }

// Backend is the actor of the route's i-th backend in config order.
func (n *RouteNode) Backend(i int) *Backend { return n.backends[i].actor }

// BackendNode is one shared backend's running actors.
type BackendNode struct {
	key    BackendKey
	actor  *Backend
	handle *supervisor.Handle
	prober *supervisor.Handle
}

// NewTree returns an empty tree whose actors sup will run; Prepare fills
// the first one.
func NewTree(sup *supervisor.Supervisor, log *slog.Logger) *Tree {
	return &Tree{sup: sup, log: log, probes: NewProbeClient(), backends: map[BackendKey]*BackendNode{}}
}

// StartTree builds and starts the actors for cfg. Probing starts at once.
func StartTree(ctx context.Context, sup *supervisor.Supervisor, log *slog.Logger, cfg *proxyconf.Config) (*Tree, error) {
	rl, err := NewTree(sup, log).Prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rl.Commit()
	return rl.Next, nil
}

// Routes returns the route nodes in config order. The slice must not be
// modified.
func (t *Tree) Routes() []*RouteNode { return t.routes }

// BackendCount is the number of backend actors (and probers) running.
func (t *Tree) BackendCount() int { return len(t.backends) }

// Changes lists what a reload changed, for the config_reload log line.
type Changes struct {
	RoutesAdded, RoutesRemoved, RoutesChanged       []string
	BackendsAdded, BackendsRemoved, BackendsChanged []string // "route backend"
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.RoutesAdded)+len(c.RoutesRemoved)+len(c.RoutesChanged)+
		len(c.BackendsAdded)+len(c.BackendsRemoved)+len(c.BackendsChanged) == 0
}

// Reload is a prepared change from one tree to the next: everything new is
// running, nothing kept has been changed. Exactly one of Commit and Abort
// must follow.
type Reload struct {
	// Next is the tree for the new configuration; it takes effect with
	// Commit.
	Next    *Tree
	Changes Changes

	old      *Tree
	started  []*supervisor.Handle // new actors and probers, stopped by Abort
	newRoute []*RouteNode         // new route actors, subscribed to their backends
	keep     []*RouteNode         // kept route actors, whose settings Commit sets
	retire   []*RouteNode
	stop     []*BackendNode
}

// Prepare builds and starts what cfg needs beside t: routes and backends
// present in both keep their actors (health state, counters); new ones
// start and are probed at once; a route whose backends, weights or
// balancing changed gets a new route actor over the backend actors. A
// backend whose [health] settings changed gets a new actor that inherits
// the old one's state. ctx bounds the wait for the actors to take their
// subscriptions; on error everything started is stopped again and t is as
// it was.
func (t *Tree) Prepare(ctx context.Context, cfg *proxyconf.Config) (_ *Reload, err error) {
	next := &Tree{sup: t.sup, log: t.log, probes: t.probes, backends: make(map[BackendKey]*BackendNode, len(t.backends))}
	rl := &Reload{Next: next, old: t}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("prepare actor tree: panic: %v", v)
		}
		if err != nil {
			rl.Abort()
		}
	}()
	reloading := len(t.routes) > 0
	now := time.Now()
	oldRoutes := make(map[string]*RouteNode, len(t.routes))
	for _, n := range t.routes {
		oldRoutes[n.conf.PathPrefix] = n
	}
	oldByURL := map[string]*BackendNode{}
	for k, b := range t.backends {
		oldByURL[k.URL] = b
	}
	next.routes = make([]*RouteNode, 0, len(cfg.Routes))
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		n := &RouteNode{conf: *rc, backends: make([]*BackendNode, len(rc.Backends))}
		for j, bc := range rc.Backends {
			n.backends[j] = rl.backend(BackendKey{bc.URL, rc.Health}, oldByURL[bc.URL], reloading, now)
		}
		prev := oldRoutes[rc.PathPrefix]
		if err := rl.route(ctx, n, prev, now); err != nil {
			return nil, err
		}
		next.routes = append(next.routes, n)
	}
	rl.diff()
	return rl, nil
}

// backend returns the node for key in the next tree: the one already made
// for an earlier route, the old tree's, or a new one started now (taking
// over the state of old, the same URL under other health settings).
func (rl *Reload) backend(key BackendKey, old *BackendNode, reloading bool, now time.Time) *BackendNode {
	next := rl.Next
	if b, ok := next.backends[key]; ok {
		return b
	}
	if b, ok := rl.old.backends[key]; ok {
		next.backends[key] = b
		return b
	}
	a := NewBackend(key.URL, key.Health, next.log)
	switch {
	case old != nil:
		a.Inherit(old.actor.Snapshot())
	case reloading:
		a.Joined(now)
	}
	b := &BackendNode{key: key, actor: a}
	b.handle = next.sup.Start(a)
	b.prober = next.sup.Start(NewProber(a, next.probes))
	rl.started = append(rl.started, b.prober, b.handle)
	next.backends[key] = b
	return b
}

// route gives n its actor: prev's when the route kept its backends,
// weights and balancing (other settings change at Commit), a new one
// subscribed to its backends otherwise.
func (rl *Reload) route(ctx context.Context, n, prev *RouteNode, now time.Time) error {
	if prev != nil && slices.Equal(prev.backends, n.backends) && prev.conf.Balancing == n.conf.Balancing &&
		slices.Equal(prev.conf.Backends, n.conf.Backends) {
		n.actor, n.handle = prev.actor, prev.handle
		n.unchanged = routeConfEqual(prev.conf, n.conf)
		if !n.unchanged {
			rl.keep = append(rl.keep, n)
		}
		return nil
	}
	var joined []time.Time
	if prev != nil || len(rl.old.routes) > 0 {
		// A backend new to this route ramps up here under slow start,
		// even when another route already used it.
		joined = make([]time.Time, len(n.backends))
		for j, bc := range n.conf.Backends {
			if prev == nil || !slices.ContainsFunc(prev.conf.Backends, func(b proxyconf.Backend) bool { return b.URL == bc.URL }) {
				joined[j] = now
			}
		}
	}
	list := make([]*Backend, len(n.backends))
	for j, b := range n.backends {
		list[j] = b.actor
	}
	n.actor = NewRoute(&n.conf, list, joined)
	n.handle = rl.Next.sup.Start(n.actor)
	rl.started = append(rl.started, n.handle)
	rl.newRoute = append(rl.newRoute, n)
	for j, b := range n.backends {
		if err := b.actor.Subscribe(ctx, n.actor, j); err != nil {
			return fmt.Errorf("start route %s: subscribe to backend %s: %w", n.conf.PathPrefix, b.key.URL, err)
		}
	}
	return nil
}

// diff lists the changes and what Commit retires and stops. Backend lists
// are short, so they are compared by scanning, not through maps.
func (rl *Reload) diff() {
	old, next := rl.old, rl.Next
	ch := &rl.Changes
	reloading := len(old.routes) > 0
	oldRoutes := make(map[string]*RouteNode, len(old.routes))
	for _, n := range old.routes {
		oldRoutes[n.conf.PathPrefix] = n
	}
	nextRoutes := make(map[string]*RouteNode, len(next.routes))
	for _, n := range next.routes {
		prefix := n.conf.PathPrefix
		nextRoutes[prefix] = n
		prev := oldRoutes[prefix]
		if prev == nil {
			if reloading {
				ch.RoutesAdded = append(ch.RoutesAdded, prefix)
			}
			continue
		}
		if n.unchanged {
			continue
		}
		ch.RoutesChanged = append(ch.RoutesChanged, prefix)
		for _, b := range n.conf.Backends {
			w, ok := findBackend(prev.conf.Backends, b.URL)
			switch {
			case !ok:
				ch.BackendsAdded = append(ch.BackendsAdded, prefix+" "+b.URL)
			case w.Weight != b.Weight || prev.conf.Health != n.conf.Health:
				ch.BackendsChanged = append(ch.BackendsChanged, prefix+" "+b.URL)
			}
		}
	}
	for _, n := range old.routes {
		now := nextRoutes[n.conf.PathPrefix]
		if now == nil {
			ch.RoutesRemoved = append(ch.RoutesRemoved, n.conf.PathPrefix)
		}
		if now == nil || now.actor != n.actor {
			rl.retire = append(rl.retire, n)
		}
		if now != nil && now.unchanged {
			continue
		}
		for _, b := range n.conf.Backends {
			if now == nil {
				ch.BackendsRemoved = append(ch.BackendsRemoved, n.conf.PathPrefix+" "+b.URL)
			} else if _, ok := findBackend(now.conf.Backends, b.URL); !ok {
				ch.BackendsRemoved = append(ch.BackendsRemoved, n.conf.PathPrefix+" "+b.URL)
			}
		}
	}
	for k, b := range old.backends {
		if _, ok := next.backends[k]; !ok {
			rl.stop = append(rl.stop, b)
		}
	}
}

// findBackend returns the backend of list whose URL is url.
func findBackend(list []proxyconf.Backend, url string) (proxyconf.Backend, bool) {
	for _, b := range list {
		if b.URL == url {
			return b, true
		}
	}
	return proxyconf.Backend{}, false
}

func routeConfEqual(a, b proxyconf.Route) bool {
	return a.Balancing == b.Balancing && a.HashKey == b.HashKey && a.StripPrefix == b.StripPrefix &&
		a.PreserveHost == b.PreserveHost && a.ClientBodyTimeout == b.ClientBodyTimeout &&
		a.Health == b.Health && a.Upstream == b.Upstream && retryEqual(a.Retry, b.Retry) &&
		slices.Equal(a.Backends, b.Backends)
}

func retryEqual(a, b proxyconf.Retry) bool {
	return a.MaxAttempts == b.MaxAttempts && a.TotalTimeout == b.TotalTimeout && a.Backoff == b.Backoff &&
		slices.Equal(a.RetryOnStatus, b.RetryOnStatus) && a.MaxBufferedBodyBytes == b.MaxBufferedBodyBytes &&
		a.BudgetPercent == b.BudgetPercent && a.MinRetryConcurrency == b.MinRetryConcurrency
}

// unsubscribeWait bounds each unsubscription Commit and Abort send: a
// backend actor that does not take it in time is on its way out anyway,
// and a route that stays subscribed after it was retired only answers
// "no objection".
const unsubscribeWait = time.Second

// Commit makes the prepared tree the one in force: kept route actors take
// their new settings, replaced route actors are retired, and backend actors
// nothing lists any more are stopped. Call it once the new route table is
// in force, so nothing new reaches the actors it stops.
func (rl *Reload) Commit() {
	for _, n := range rl.keep {
		n.actor.SetSettings(SettingsOf(&n.conf))
	}
	for _, n := range rl.retire {
		// Stopped first: a route actor retired while its context still
		// runs would look like one that quit on its own, and be logged
		// and restarted as such. Run retires it on the way out.
		n.handle.Stop()
		n.actor.Retire()
		unsubscribe(n, rl.Next.backends)
	}
	for _, b := range rl.stop {
		b.prober.Stop()
		b.handle.Stop()
	}
}

// Abort undoes Prepare: the new route actors leave the kept backends they
// subscribed to, and every actor started is stopped.
func (rl *Reload) Abort() {
	for _, n := range rl.newRoute {
		n.handle.Stop() // before Retire: see Commit
		n.actor.Retire()
		unsubscribe(n, rl.old.backends)
	}
	for i := len(rl.started) - 1; i >= 0; i-- {
		rl.started[i].Stop()
	}
	rl.started = nil
}

// unsubscribe takes route n off those of its backend actors that stay in
// running (those in stays).
func unsubscribe(n *RouteNode, stays map[BackendKey]*BackendNode) {
	for _, b := range n.backends {
		if stays[b.key] != b {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), unsubscribeWait)
		_ = b.actor.Unsubscribe(ctx, n.actor)
		cancel()
	}
}

// CloseIdleProbes closes the probe connections kept alive between probes.
func (t *Tree) CloseIdleProbes() { t.probes.CloseIdleConnections() }

// Stop stops every actor of the tree: probers and route actors first,
// backend actors last.
func (t *Tree) Stop() {
	for _, n := range t.routes {
		n.handle.Stop() // before Retire: see Commit
		n.actor.Retire()
	}
	for _, b := range t.backends {
		b.prober.Stop()
	}
	for _, b := range t.backends {
		b.handle.Stop()
	}
	t.probes.CloseIdleConnections()
}

// DeadPools waits for every backend's first probe (or ctx) and returns one
// line per route none of whose backends passed it, naming the route and its
// backends.
func (t *Tree) DeadPools(ctx context.Context) ([]string, error) {
	var dead []string
	for _, n := range t.routes {
		alive := false
		urls := make([]string, len(n.backends))
		for i, b := range n.backends {
			select {
			case <-b.actor.FirstProbe():
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for first probes: %w", ctx.Err())
			}
			if c := b.actor.Snapshot().LastCheck; c != nil && c.OK {
				alive = true
			}
			urls[i] = b.actor.URL()
		}
		if !alive {
			dead = append(dead, fmt.Sprintf("route %s: no backend passed its first probe (%s)", n.conf.PathPrefix, strings.Join(urls, ", ")))
		}
	}
	return dead, nil
}
