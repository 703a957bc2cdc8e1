package proxy

import (
	"sync"

	"ferrum/actors"
	"ferrum/actors/proxy/headers"
	"ferrum/actors/proxy/pathx"
	"ferrum/proxyconf"
)

// Table is one immutable route table: what the request path reads for each
// request through a single atomic load, so a request sees one table whole.
type Table struct {
	cfg     *proxyconf.Config
	matcher *pathx.Matcher
	routes  []*route
	trust   headers.Trust
	rootOK  bool          // no route matches "/", so GET / is the proxy's own
	none    *routeMetrics // requests that matched no route
}

// route is one route as the request path sees it.
type route struct {
	conf     *proxyconf.Route
	actor    *actors.Route
	backends []*upstream
	metrics  *routeMetrics
}

// upstream is one backend of one route: its actor and connection pool.
type upstream struct {
	url     string
	host    string // host:port dialled and, with preserve_host = false, sent as Host
	actor   *actors.Backend
	pool    *connPool
	metrics *backendMetrics
}

// Pools keeps the connection pools of backends across route tables, so a
// reload that keeps a backend keeps its connections. Routes that list the
// same backend with the same [upstream] settings share one pool. The
// goroutine that builds tables adds and drops pools; the janitor sweeps
// them; mu guards the map for both.
type Pools struct {
	mu sync.Mutex
	m  map[poolKey]*connPool
}

type poolKey struct {
	url      string
	settings proxyconf.Upstream
}

// NewPools returns an empty pool set.
func NewPools() *Pools { return &Pools{m: make(map[poolKey]*connPool)} }

func (p *Pools) get(b proxyconf.Backend, u proxyconf.Upstream) *connPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := poolKey{b.URL, u}
	cp, ok := p.m[k]
	if !ok {
		cp = newConnPool(b.Host, u)
		p.m[k] = cp
	}
	return cp
}

// Forget drops the pools cfg no longer uses, closing their idle
// connections; connections still carrying requests close when those end.
func (p *Pools) Forget(cfg *proxyconf.Config) {
	keep := map[poolKey]bool{}
	for _, r := range cfg.Routes {
		for _, b := range r.Backends {
			keep[poolKey{b.URL, r.Upstream}] = true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, cp := range p.m {
		if !keep[k] {
			cp.retire()
			delete(p.m, k)
		}
	}
}

// CloseIdle closes the idle connections of every pool.
func (p *Pools) CloseIdle() {
	for _, cp := range p.list() {
		cp.closeIdle()
	}
}

// list returns the pools in use.
func (p *Pools) list() []*connPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*connPool, 0, len(p.m))
	for _, cp := range p.m {
		out = append(out, cp)
	}
	return out
}

// BuildTable makes the route table for cfg over the running actors of tree,
// taking connection pools from pools and each route's and pair's metrics
// from m.
// A route the tree marks unchanged keeps its entry from prev (nil at
// start), so a reload that adds one route to thousands costs little.
func BuildTable(cfg *proxyconf.Config, tree *actors.Tree, pools *Pools, m *Metrics, prev *Table) *Table {
	nodes := tree.Routes()
	t := &Table{cfg: cfg, trust: headers.NewTrust(cfg.Server.TrustedProxies), rootOK: true, none: m.none}
	prefixes := make([]string, len(nodes))
	t.routes = make([]*route, 0, len(nodes))
	for i, n := range nodes {
		rc := n.Conf()
		prefixes[i] = rc.PathPrefix
		if rc.PathPrefix == "/" {
			t.rootOK = false
		}
		if n.Unchanged() && prev != nil {
			if r := prev.route(rc.PathPrefix); r != nil && r.actor == n.Actor() {
				t.routes = append(t.routes, r)
				continue
			}
		}
		r := &route{conf: rc, actor: n.Actor(), metrics: m.forRoute(rc.PathPrefix)}
		r.backends = make([]*upstream, len(rc.Backends))
		for j, bc := range rc.Backends {
			u := &upstream{
				url:     bc.URL,
				host:    bc.Host,
				actor:   n.Backend(j),
				pool:    pools.get(bc, rc.Upstream),
				metrics: m.forBackend(r.metrics, bc.URL),
			}
			r.backends[j] = u
		}
		t.routes = append(t.routes, r)
	}
	t.matcher = pathx.NewMatcher(prefixes)
	return t
}

// route returns the route whose path_prefix is prefix, or nil.
func (t *Table) route(prefix string) *route {
	if i, ok := t.matcher.Match(prefix); ok && t.routes[i].conf.PathPrefix == prefix {
		return t.routes[i]
	}
	return nil
}
