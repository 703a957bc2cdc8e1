package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"ferrum/actors"
	"ferrum/proxyconf"
)

// Server is one running ferrum's request side: the route table over an
// actor tree, the client connections, and what changes them (reload,
// drain). main composes it: it owns the supervisor, the tree it hands over,
// the listeners and the signals. Apply, ReloadFailed, StartDrain, Shutdown
// and Close are called from one goroutine, the one that handles signals;
// Serve and ServeDebug each run as a member of main's run group.
type Server struct {
	log     *slog.Logger
	level   *slog.LevelVar
	metrics *Metrics
	proxy   *Proxy
	pools   *Pools

	cfg  *proxyconf.Config // in force; written by Apply
	tree *actors.Tree      // in force; written by Apply

	conns conns // client connections being served
	// accepting counts the accept loops running; Shutdown waits for them
	// to stop before it looks at the connections, so none is accepted
	// behind its back.
	accepting sync.WaitGroup
	// freshGrace is freshGraceDefault; tests on a loaded machine give
	// their clients longer.
	freshGrace time.Duration

	mu        sync.Mutex
	listeners []net.Listener // the client listeners; guarded by mu
	servers   []*http.Server // the debug listener's server; guarded by mu
}

// Options are what NewServer needs.
type Options struct {
	Log     *slog.Logger
	Level   *slog.LevelVar // the level in force; reloads change it; nil: none
	Version string
	Metrics *Metrics          // never nil
	Config  *proxyconf.Config // the configuration the tree was started with
	Tree    *actors.Tree      // running; the server reloads and finally stops it
}

// NewServer returns a server for the tree's routes. It starts nothing.
func NewServer(o Options) *Server {
	s := &Server{log: o.Log, level: o.Level, metrics: o.Metrics, cfg: o.Config, tree: o.Tree, pools: NewPools(), freshGrace: freshGraceDefault}
	s.proxy = New(o.Log, o.Version, o.Config, BuildTable(o.Config, o.Tree, s.pools, o.Metrics, nil), o.Metrics)
	return s
}

// Proxy is the request handler.
func (s *Server) Proxy() *Proxy { return s.proxy }

// Tree is the actor tree in force. Only the goroutine that calls Apply may
// use it.
func (s *Server) Tree() *actors.Tree { return s.tree }

// Config is the configuration in force. Only the goroutine that calls Apply
// may use it.
func (s *Server) Config() *proxyconf.Config { return s.cfg }

// Pools are the upstream connection pools, for the janitor.
func (s *Server) Pools() *Pools { return s.pools }

// CheckPools waits for every backend's first probe and fails, naming the
// routes, when a route has no backend that passed it (fail_on_dead_pool).
func (s *Server) CheckPools(ctx context.Context) error {
	var wait time.Duration
	for _, r := range s.cfg.Routes {
		wait = max(wait, r.Health.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, wait+2*time.Second)
	defer cancel()
	dead, err := s.tree.DeadPools(ctx)
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		return fmt.Errorf("fail_on_dead_pool: %s", strings.Join(dead, "; "))
	}
	return nil
}

// Serve serves client connections accepted from ln, each on a goroutine of
// its own running ferrum's HTTP/1.1 loop, until ctx ends; then it closes
// every connection still open, waits for their goroutines, and returns nil.
// Shutdown stops it accepting early; it still returns only when ctx ends,
// so a run group is not ended by a drain. Accept errors (out of file
// descriptors, say) are logged and retried with backoff; only a listener
// that fails otherwise ends it with the error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.accepting.Add(1)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	pl := &patientListener{Listener: ln, log: s.log, shortage: &s.proxy.shortage}
	var wg sync.WaitGroup
	var err error
	for {
		c, aerr := pl.Accept()
		if aerr != nil {
			if !errors.Is(aerr, net.ErrClosed) {
				err = aerr
			}
			s.accepting.Done()
			break
		}
		cc := newClientConn(s.proxy, c)
		s.conns.add(cc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.conns.remove(cc)
			cc.serve()
		}()
	}
	if err == nil {
		<-ctx.Done() // closed by Shutdown, or by ctx: either way, wait for ctx
	}
	s.conns.closeAll()
	wg.Wait()
	return err
}

// ServeDebug serves /health, /health/backends and /metrics on ln (the
// debug.listen address) through net/http until ctx ends, as Serve does.
func (s *Server) ServeDebug(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.proxy.DebugHandler(), ReadHeaderTimeout: s.proxy.listen.Server.ClientHeaderTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.mu.Lock()
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { hs.Close() })
	defer stop()
	err := hs.Serve(&patientListener{Listener: ln, log: s.log, shortage: &s.proxy.shortage})
	if errors.Is(err, http.ErrServerClosed) {
		<-ctx.Done()
		return nil
	}
	hs.Close()
	return err
}

// reloadWait bounds how long a reload waits for the actors it starts.
const reloadWait = 5 * time.Second

// Apply makes cfg the configuration in force, as a transaction: the actors
// cfg needs are started beside the running ones, the new route table takes
// effect atomically, and only then are the actors cfg no longer has
// stopped. Kept backends keep their actors and connections. On error
// nothing in force changed. It logs the outcome and counts it.
func (s *Server) Apply(cfg *proxyconf.Config) (err error) {
	cfg = s.keepListeners(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), reloadWait)
	defer cancel()
	rl, err := s.tree.Prepare(ctx, cfg)
	if err != nil {
		return err
	}
	table, err := buildTableSafely(cfg, rl.Next, s.pools, s.metrics, s.proxy.Table())
	if err != nil {
		rl.Abort()
		return err
	}
	s.proxy.SetTable(table)
	rl.Commit()
	s.proxy.CloseTunnelsUnless(func(route, backend string) bool {
		for _, r := range cfg.Routes {
			if r.PathPrefix == route && slices.ContainsFunc(r.Backends, func(b proxyconf.Backend) bool { return b.URL == backend }) {
				return true
			}
		}
		return false
	}, cfg.Server.GracefulShutdownTimeout)
	s.pools.Forget(cfg)
	s.metrics.Forget(s.cfg, cfg)
	s.cfg, s.tree = cfg, rl.Next
	if s.level != nil {
		s.level.Set(cfg.Log.Level)
	}
	s.metrics.ConfigReload(true)
	ch := rl.Changes
	s.log.Info("config_reload", "result", "success", "routes_added", ch.RoutesAdded, "routes_removed", ch.RoutesRemoved,
		"routes_changed", ch.RoutesChanged, "backends_added", ch.BackendsAdded, "backends_removed", ch.BackendsRemoved,
		"backends_changed", ch.BackendsChanged)
	return nil
}

// buildTableSafely builds the route table, turning a panic into an error so
// a reload can be undone instead of ending the process.
func buildTableSafely(cfg *proxyconf.Config, tree *actors.Tree, pools *Pools, m *Metrics, prev *Table) (t *Table, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("build route table: panic: %v", v)
		}
	}()
	return BuildTable(cfg, tree, pools, m, prev), nil
}

// ReloadFailed counts a failed reload and logs every problem of err, one
// line each. Nothing in force changed.
func (s *Server) ReloadFailed(err error) {
	// Counted before it is logged, so the log line means the metric
	// already shows it.
	s.metrics.ConfigReload(false)
	var probs proxyconf.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			s.log.Error("config_reload", "result", "failure", "error", p.Error())
		}
		return
	}
	s.log.Error("config_reload", "result", "failure", "error", err.Error())
}

// keepListeners returns cfg with the settings that only a restart can change
// put back to the ones in force, warning about each that differed.
func (s *Server) keepListeners(cfg *proxyconf.Config) *proxyconf.Config {
	c := *cfg
	old := s.cfg
	warn := func(key, was, now string) {
		s.log.Warn("config_reload", "result", "restart_needed", "key", key, "in_force", was, "in_file", now,
			"error", key+" changed; restart ferrum to apply it")
	}
	if c.Server.Listen != old.Server.Listen {
		warn("server.listen", old.Server.Listen, c.Server.Listen)
		c.Server.Listen = old.Server.Listen
	}
	if c.Debug.Listen != old.Debug.Listen {
		warn("debug.listen", old.Debug.Listen, c.Debug.Listen)
		c.Debug.Listen = old.Debug.Listen
	}
	// These are read when the listener starts; what is in force stays in
	// force (and in s.cfg, so the next reload warns again).
	if c.Server.ClientHeaderTimeout != old.Server.ClientHeaderTimeout {
		warn("server.client_header_timeout", old.Server.ClientHeaderTimeout.String(), c.Server.ClientHeaderTimeout.String())
		c.Server.ClientHeaderTimeout = old.Server.ClientHeaderTimeout
	}
	if c.Server.IdleTimeout != old.Server.IdleTimeout {
		warn("server.idle_timeout", old.Server.IdleTimeout.String(), c.Server.IdleTimeout.String())
		c.Server.IdleTimeout = old.Server.IdleTimeout
	}
	if c.Server.MaxHeaderBytes != old.Server.MaxHeaderBytes {
		warn("server.max_header_bytes", fmt.Sprint(old.Server.MaxHeaderBytes), fmt.Sprint(c.Server.MaxHeaderBytes))
		c.Server.MaxHeaderBytes = old.Server.MaxHeaderBytes
	}
	if c.Log.Format != old.Log.Format {
		warn("log.format", old.Log.Format, c.Log.Format)
		c.Log.Format = old.Log.Format
	}
	return &c
}

// StartDrain begins a drain: /health answers 503 from now on, and every
// answer carries Connection: close and ends its connection.
func (s *Server) StartDrain() { s.proxy.StartDrain() }

// ErrDrainDeadline is returned by Shutdown when graceful_shutdown_timeout
// cut requests off.
var ErrDrainDeadline = errors.New("graceful_shutdown_timeout cut requests off")

// Shutdown stops accepting connections, closes idle ones, and waits until
// every request in flight finished and every tunnel closed, or ctx ends;
// then it closes what is still open. It returns ErrDrainDeadline when
// requests were still in flight at the deadline (tunnels closed then do not
// count). The Serve calls return only when their own contexts end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.proxy.StartDrain()
	s.proxy.listenerClosed.Store(true)
	s.mu.Lock()
	listeners, servers := slices.Clone(s.listeners), slices.Clone(s.servers)
	s.mu.Unlock()
	for _, ln := range listeners {
		ln.Close()
	}
	s.accepting.Wait()
	s.conns.closeIdle()
	var cut bool
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			cut = true
			hs.Close()
		}
	}
	if !s.conns.wait(ctx, time.Now().Add(s.freshGrace)) {
		cut = true
	}
	s.proxy.DrainTunnels(ctx)
	s.conns.closeAll()
	if cut {
		return ErrDrainDeadline
	}
	return nil
}

// Close stops everything at once: listeners, connections, tunnels, idle
// upstream connections, and the actor tree.
func (s *Server) Close() {
	s.mu.Lock()
	listeners, servers := slices.Clone(s.listeners), slices.Clone(s.servers)
	s.mu.Unlock()
	for _, ln := range listeners {
		ln.Close()
	}
	for _, hs := range servers {
		hs.Close()
	}
	s.conns.closeAll()
	s.proxy.tunnels.each(func(t *tunnel) { t.close() })
	s.pools.CloseIdle()
	s.tree.Stop()
}

// conns is the set of client connections being served.
type conns struct {
	mu   sync.Mutex
	set  map[*clientConn]struct{}
	zero chan struct{} // closed when no connection but tunnels is left; nil when nobody waits
}

func (cs *conns) add(cc *clientConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.set == nil {
		cs.set = map[*clientConn]struct{}{}
	}
	cs.set[cc] = struct{}{}
}

func (cs *conns) remove(cc *clientConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.set, cc)
	cs.signal()
}

// signal closes zero when only tunnels are left; the caller holds mu.
func (cs *conns) signal() {
	if cs.zero == nil {
		return
	}
	for cc := range cs.set {
		if cc.state.Load() != connTunnel {
			return
		}
	}
	close(cs.zero)
	cs.zero = nil
}

// freshGraceDefault is how long a drain lets a connection accepted just before
// the listener closed send its first request: a client that connected
// means to send one, and closing it under the client would be an error
// the client sees. One that sends nothing in that time is closed.
const freshGraceDefault = time.Second

// closeFresh closes the connections still waiting for their first request
// once the grace (until) is over.
func (cs *conns) closeFresh(now, until time.Time) {
	if now.Before(until) {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for cc := range cs.set {
		if cc.state.CompareAndSwap(connFresh, connClosed) {
			cc.c.Close()
		}
	}
}

// count is the number of connections being served.
func (cs *conns) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.set)
}

// busy reports whether a connection is serving a request.
func (cs *conns) busy() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for cc := range cs.set {
		if cc.state.Load() == connActive {
			return true
		}
	}
	return false
}

// closeIdle closes the connections waiting for a request; the others close
// themselves after their answer.
func (cs *conns) closeIdle() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for cc := range cs.set {
		if cc.state.CompareAndSwap(connIdle, connClosed) {
			cc.c.Close()
		}
	}
}

// closeAll closes every connection.
func (cs *conns) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for cc := range cs.set {
		cc.state.Store(connClosed)
		cc.c.Close()
	}
}

// wait waits until no connection but tunnels is left, polling for
// connections that became tunnels and closing fresh ones past their grace
// (freshUntil), or until ctx ends. It reports false when ctx ended with a
// request still being served: connections idle or fresh at the deadline
// carried no request, and closing them cuts nothing.
func (cs *conns) wait(ctx context.Context, freshUntil time.Time) bool {
	for {
		cs.closeFresh(time.Now(), freshUntil)
		cs.mu.Lock()
		cs.zero = make(chan struct{})
		cs.signal()
		zero := cs.zero
		cs.mu.Unlock()
		if zero == nil {
			return true
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-zero:
			t.Stop()
			return true
		case <-ctx.Done():
			t.Stop()
			return !cs.busy()
		case <-t.C:
		}
	}
}
