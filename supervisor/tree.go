package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"ferrum/actors"
	"ferrum/proxyconf"
)

// Tree is the running actor tree for one configuration: per route, a route
// actor, and per backend a backend actor and its prober.
type Tree struct {
	Routes []*RouteNode
	probes *http.Client
}

// RouteNode is one route's running actors. Conf is the resolved route config;
// Backends are in Conf.Backends order.
type RouteNode struct {
	Conf     proxyconf.Route
	Actor    *actors.Route
	Backends []*actors.Backend
	handles  []*Handle
}

// StartTree builds and starts the actors for cfg. Probing starts at once.
func (s *Supervisor) StartTree(ctx context.Context, cfg *proxyconf.Config) (*Tree, error) {
	t := &Tree{probes: actors.NewProbeClient()}
	for _, rc := range cfg.Routes {
		n, err := s.startRoute(ctx, rc, t.probes)
		if err != nil {
			return nil, err
		}
		t.Routes = append(t.Routes, n)
	}
	return t, nil
}

func (s *Supervisor) startRoute(ctx context.Context, rc proxyconf.Route, probes *http.Client) (*RouteNode, error) {
	n := &RouteNode{Conf: rc}
	for i, bc := range rc.Backends {
		b := actors.NewBackend(rc.PathPrefix, i, bc.URL, rc.Health, s.log)
		n.Backends = append(n.Backends, b)
		n.handles = append(n.handles, s.Start(b))
	}
	n.Actor = actors.NewRoute(rc.PathPrefix, rc.Balancing, rc.Health.MaxEjectedPercent, n.Backends)
	n.handles = append(n.handles, s.Start(n.Actor))
	for i, b := range n.Backends {
		if err := b.Subscribe(ctx, n.Actor, i); err != nil {
			return nil, fmt.Errorf("start route %s: %w", rc.PathPrefix, err)
		}
		n.handles = append(n.handles, s.Start(actors.NewProber(b, probes)))
	}
	return n, nil
}

// Stop stops the route's actors: probers and the route actor first, backend
// actors last.
func (n *RouteNode) Stop() {
	n.Actor.Retire()
	for i := len(n.handles) - 1; i >= 0; i-- {
		n.handles[i].Stop()
	}
}

// DeadPools waits for every backend's first probe (or ctx) and returns one
// line per route none of whose backends passed it, naming the route and its
// backends.
func (t *Tree) DeadPools(ctx context.Context) ([]string, error) {
	var dead []string
	for _, n := range t.Routes {
		alive := false
		for _, b := range n.Backends {
			select {
			case <-b.FirstProbe():
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for first probes: %w", ctx.Err())
			}
			if c := b.Snapshot().LastCheck; c != nil && c.OK {
				alive = true
			}
		}
		if !alive {
			urls := make([]string, len(n.Backends))
			for i, b := range n.Backends {
				urls[i] = b.URL()
			}
			dead = append(dead, fmt.Sprintf("route %s: no backend passed its first probe (%s)", n.Conf.PathPrefix, strings.Join(urls, ", ")))
		}
	}
	return dead, nil
}

// Logger returns the supervisor's logger.
func (s *Supervisor) Logger() *slog.Logger { return s.log }
