package supervisor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"ferrum/actors"
	"ferrum/proxyconf"
)

// Tree is the running actor tree for one configuration: per route, a route
// actor, and per backend a backend actor and its prober. A Tree is replaced,
// never modified, by Reload; only the goroutine that owns the supervisor's
// lifecycle (main) uses it.
type Tree struct {
	Routes []*RouteNode
	probes *http.Client
}

// RouteNode is one route's running actors. Conf is the resolved route config;
// Backends are in Conf.Backends order.
type RouteNode struct {
	Conf     proxyconf.Route
	Actor    *actors.Route
	Backends []*BackendNode
	handle   *Handle
}

// BackendNode is one (route, backend) pair's running actors.
type BackendNode struct {
	Actor  *actors.Backend
	actor  *Handle
	prober *Handle
}

// StartTree builds and starts the actors for cfg. Probing starts at once.
func (s *Supervisor) StartTree(ctx context.Context, cfg *proxyconf.Config) (*Tree, error) {
	t, _, _, err := s.Reload(ctx, &Tree{probes: actors.NewProbeClient()}, cfg)
	return t, err
}

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

// Reload builds the tree for cfg from old: routes and backends present in
// both keep their actors (health state, counters); new ones start and are
// probed at once; a route whose backend list or balancing changed gets a new
// route actor over the kept backend actors. It returns the new tree and a
// function that stops what cfg no longer has: call it once the new route
// table is in force, so nothing new reaches those actors.
func (s *Supervisor) Reload(ctx context.Context, old *Tree, cfg *proxyconf.Config) (*Tree, Changes, func(), error) {
	t := &Tree{probes: old.probes}
	var ch Changes
	oldRoutes := map[string]*RouteNode{}
	for _, n := range old.Routes {
		oldRoutes[n.Conf.PathPrefix] = n
	}
	kept := map[*BackendNode]bool{}
	keptRoutes := map[*RouteNode]bool{}
	for _, rc := range cfg.Routes {
		prev := oldRoutes[rc.PathPrefix]
		n, err := s.reloadRoute(ctx, prev, rc, t.probes, kept, &ch, len(old.Routes) > 0)
		if err != nil {
			return nil, ch, nil, err
		}
		if prev != nil && n.Actor == prev.Actor {
			keptRoutes[prev] = true
		}
		t.Routes = append(t.Routes, n)
	}
	var retire []*RouteNode
	var stop []*BackendNode
	for _, n := range old.Routes {
		if !slices.ContainsFunc(cfg.Routes, func(r proxyconf.Route) bool { return r.PathPrefix == n.Conf.PathPrefix }) {
			ch.RoutesRemoved = append(ch.RoutesRemoved, n.Conf.PathPrefix)
		}
		if !keptRoutes[n] {
			retire = append(retire, n)
		}
		for _, b := range n.Backends {
			if !kept[b] {
				stop = append(stop, b)
				ch.BackendsRemoved = append(ch.BackendsRemoved, n.Conf.PathPrefix+" "+b.Actor.URL())
			}
		}
	}
	finish := func() {
		for _, n := range retire {
			// Stopped first: a route actor retired while its context
			// still runs would look like one that quit on its own, and
			// be logged and restarted as such. Run retires it on the way
			// out.
			n.handle.Stop()
			n.Actor.Retire()
		}
		for _, b := range stop {
			b.prober.Stop()
			b.actor.Stop()
		}
	}
	return t, ch, finish, nil
}

func (s *Supervisor) reloadRoute(ctx context.Context, prev *RouteNode, rc proxyconf.Route, probes *http.Client, kept map[*BackendNode]bool, ch *Changes, reloading bool) (*RouteNode, error) {
	n := &RouteNode{Conf: rc}
	prevByURL := map[string]*BackendNode{}
	prevWeight := map[string]int{}
	if prev != nil {
		for _, b := range prev.Backends {
			prevByURL[b.Actor.URL()] = b
		}
		for _, bc := range prev.Conf.Backends {
			prevWeight[bc.URL] = bc.Weight
		}
	} else {
		ch.RoutesAdded = append(ch.RoutesAdded, rc.PathPrefix)
	}
	for _, bc := range rc.Backends {
		if b, ok := prevByURL[bc.URL]; ok {
			healthChanged := b.Actor.Health() != rc.Health
			if healthChanged {
				b.Actor.SetHealth(rc.Health)
			}
			if healthChanged || prevWeight[bc.URL] != bc.Weight {
				ch.BackendsChanged = append(ch.BackendsChanged, rc.PathPrefix+" "+bc.URL)
			}
			kept[b] = true
			n.Backends = append(n.Backends, b)
			continue
		}
		a := actors.NewBackend(rc.PathPrefix, bc.URL, rc.Health, s.log)
		if reloading {
			a.Joined(time.Now())
		}
		b := &BackendNode{Actor: a, actor: s.Start(a)}
		n.Backends = append(n.Backends, b)
		if prev != nil {
			ch.BackendsAdded = append(ch.BackendsAdded, rc.PathPrefix+" "+bc.URL)
		}
	}
	if prev != nil && sameBackends(prev, n) && prev.Conf.Balancing == rc.Balancing && slices.Equal(prev.Conf.Backends, rc.Backends) {
		n.Actor, n.handle = prev.Actor, prev.handle
		n.Actor.SetSettings(actors.SettingsOf(&rc))
		if !routeConfEqual(prev.Conf, rc) {
			ch.RoutesChanged = append(ch.RoutesChanged, rc.PathPrefix)
		}
	} else {
		list := make([]*actors.Backend, len(n.Backends))
		for i, b := range n.Backends {
			list[i] = b.Actor
		}
		n.Actor = actors.NewRoute(&rc, list)
		n.handle = s.Start(n.Actor)
		if prev != nil {
			ch.RoutesChanged = append(ch.RoutesChanged, rc.PathPrefix)
		}
		for i, b := range n.Backends {
			if err := b.Actor.Subscribe(ctx, n.Actor, i); err != nil {
				return nil, fmt.Errorf("start route %s: %w", rc.PathPrefix, err)
			}
		}
	}
	for _, b := range n.Backends {
		if b.prober == nil {
			b.prober = s.Start(actors.NewProber(b.Actor, probes))
		}
	}
	return n, nil
}

func sameBackends(a, b *RouteNode) bool {
	return slices.Equal(a.Backends, b.Backends)
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

// CloseIdleProbes closes the probe connections kept alive between probes.
func (t *Tree) CloseIdleProbes() { t.probes.CloseIdleConnections() }

// Stop stops every actor of the tree: probers and route actors first,
// backend actors last.
func (t *Tree) Stop() {
	for _, n := range t.Routes {
		n.handle.Stop() // before Retire: see Reload's finish
		n.Actor.Retire()
		for _, b := range n.Backends {
			b.prober.Stop()
		}
	}
	for _, n := range t.Routes {
		for _, b := range n.Backends {
			b.actor.Stop()
		}
	}
}

// DeadPools waits for every backend's first probe (or ctx) and returns one
// line per route none of whose backends passed it, naming the route and its
// backends.
func (t *Tree) DeadPools(ctx context.Context) ([]string, error) {
	var dead []string
	for _, n := range t.Routes {
		alive := false
		urls := make([]string, len(n.Backends))
		for i, b := range n.Backends {
			select {
			case <-b.Actor.FirstProbe():
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for first probes: %w", ctx.Err())
			}
			if c := b.Actor.Snapshot().LastCheck; c != nil && c.OK {
				alive = true
			}
			urls[i] = b.Actor.URL()
		}
		if !alive {
			dead = append(dead, fmt.Sprintf("route %s: no backend passed its first probe (%s)", n.Conf.PathPrefix, strings.Join(urls, ", ")))
		}
	}
	return dead, nil
}
