package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// Server is one running ferrum: the actor tree, the route table, the
// listeners, and what changes them (reload, drain). Its methods are called
// from one goroutine, the one that handles signals.
type Server struct {
	log     *slog.Logger
	level   *slog.LevelVar
	version string
	cfg     *proxyconf.Config
	sup     *supervisor.Supervisor
	tree    *supervisor.Tree
	pools   *Pools
	metrics *Metrics
	proxy   *Proxy
	srv     *http.Server
	dbg     *http.Server
	addr    string
	errs    chan error // listener failures; capacity 2, one per listener
}

// Options are what Start needs besides the configuration.
type Options struct {
	Log     *slog.Logger
	Level   *slog.LevelVar // the level in force; reloads change it
	Version string
	Metrics *Metrics // nil: no metrics
}

// Start starts the actors for cfg, waits for first probes when
// fail_on_dead_pool asks for it, and opens the listeners. On error
// everything started is stopped again.
func Start(cfg *proxyconf.Config, o Options) (_ *Server, err error) {
	s := &Server{log: o.Log, level: o.Level, version: o.Version, cfg: cfg, metrics: o.Metrics,
		sup: supervisor.New(o.Log, supervisor.DefaultPolicy), pools: NewPools(), errs: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	ctx := context.Background()
	if s.tree, err = s.sup.StartTree(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.Server.FailOnDeadPool {
		if err := s.checkPools(ctx); err != nil {
			return nil, err
		}
	}
	s.proxy = New(o.Log, o.Version, BuildTable(cfg, s.tree, s.pools, o.Metrics), o.Metrics)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("%s: server.listen: %w; free the address or change server.listen", cfg.File, err)
	}
	s.addr = ln.Addr().String()
	s.srv = s.proxy.httpServer(cfg)
	go func() { s.errs <- s.srv.Serve(Patient(s.proxy.Watch(ln), o.Log)) }()
	if cfg.Debug.Listen != "" {
		dln, err := net.Listen("tcp", cfg.Debug.Listen)
		if err != nil {
			return nil, fmt.Errorf("%s: debug.listen: %w; free the address or change debug.listen", cfg.File, err)
		}
		s.dbg = &http.Server{Handler: s.proxy.DebugHandler(), ReadHeaderTimeout: cfg.Server.ClientHeaderTimeout}
		go func() { s.errs <- s.dbg.Serve(Patient(dln, o.Log)) }()
		o.Log.Info("debug_listen", "listen", dln.Addr().String())
	}
	o.Log.Info("server_start", "listen", s.addr, "routes", len(cfg.Routes), "version", o.Version, "config", cfg.File)
	return s, nil
}

// Addr is the client-facing listener's address.
func (s *Server) Addr() string { return s.addr }

// Proxy is the request handler.
func (s *Server) Proxy() *Proxy { return s.proxy }

// Tree is the actor tree in force.
func (s *Server) Tree() *supervisor.Tree { return s.tree }

// ServeErrors delivers the error of a listener that stopped serving on its
// own (http.ErrServerClosed after Close or Drain).
func (s *Server) ServeErrors() <-chan error { return s.errs }

// Fatal delivers the error of an actor that failed past the supervisor's
// restart intensity.
func (s *Server) Fatal() <-chan error { return s.sup.Fatal() }

func (s *Server) checkPools(ctx context.Context) error {
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

// Reload re-reads the configuration file and applies it: the new route
// table takes effect atomically, kept backends keep their actors and
// connections, removed ones stop after the swap. A bad file changes nothing;
// every problem is logged and the failure counted.
func (s *Server) Reload() {
	cfg, err := proxyconf.Load(s.cfg.File)
	if err != nil {
		// Counted before it is logged, so the log line means the
		// metric already shows it.
		s.countReload(false)
		var probs proxyconf.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				s.log.Error("config_reload", "result", "failure", "error", p.Error())
			}
		} else {
			s.log.Error("config_reload", "result", "failure", "error", err.Error())
		}
		return
	}
	cfg = s.keepListeners(cfg)
	tree, ch, finish, err := s.sup.Reload(context.Background(), s.tree, cfg)
	if err != nil {
		s.countReload(false)
		s.log.Error("config_reload", "result", "failure", "error", err.Error())
		return
	}
	s.proxy.SetTable(BuildTable(cfg, tree, s.pools, s.metrics))
	finish()
	s.proxy.CloseTunnelsUnless(func(route, backend string) bool {
		for _, r := range cfg.Routes {
			if r.PathPrefix == route && slices.ContainsFunc(r.Backends, func(b proxyconf.Backend) bool { return b.URL == backend }) {
				return true
			}
		}
		return false
	}, cfg.Server.GracefulShutdownTimeout)
	s.pools.Forget(cfg)
	if s.metrics != nil {
		s.metrics.Forget(s.cfg, cfg)
	}
	s.cfg, s.tree = cfg, tree
	if s.level != nil {
		s.level.Set(cfg.Log.Level)
	}
	s.countReload(true)
	s.log.Info("config_reload", "result", "success", "routes_added", ch.RoutesAdded, "routes_removed", ch.RoutesRemoved,
		"routes_changed", ch.RoutesChanged, "backends_added", ch.BackendsAdded, "backends_removed", ch.BackendsRemoved,
		"backends_changed", ch.BackendsChanged)
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

func (s *Server) countReload(ok bool) {
	if s.metrics != nil {
		s.metrics.ConfigReload(ok)
	}
}

// Drain shuts down gracefully after sig: /health turns 503, traffic is
// served for shutdown_delay, then the listeners close and in-flight requests
// get graceful_shutdown_timeout. Another signal on sigs ends it at once. It
// returns the exit code: 0 when drained, 1 when requests were cut off.
func (s *Server) Drain(sig os.Signal, sigs <-chan os.Signal) int {
	c := s.cfg.Server
	s.proxy.StartDrain()
	s.log.Info("shutdown_started", "signal", sig.String(), "shutdown_delay", c.ShutdownDelay,
		"graceful_shutdown_timeout", c.GracefulShutdownTimeout)
	quit := make(chan struct{})
	defer close(quit)
	stop := s.stopSignals(sigs, quit)
	delay := time.NewTimer(c.ShutdownDelay)
	defer delay.Stop()
	select {
	case <-delay.C:
	case again := <-stop:
		return s.forced(again)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.GracefulShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := s.srv.Shutdown(ctx)
		// Tunnels get the same deadline; closing them then is expected
		// and does not count as cutting requests off.
		s.proxy.DrainTunnels(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			s.Close()
			s.log.Warn("shutdown_complete", "result", "deadline", "error", "graceful_shutdown_timeout cut requests off")
			return 1
		}
	case again := <-stop:
		return s.forced(again)
	}
	s.Close()
	s.log.Info("shutdown_complete", "result", "drained")
	return 0
}

// stopSignals passes on the signals from sigs that end a drain at once (a
// second SIGTERM or SIGINT); a SIGHUP during a drain is logged and ignored.
// Its goroutine ends when quit closes.
func (s *Server) stopSignals(sigs <-chan os.Signal, quit <-chan struct{}) <-chan os.Signal {
	stop := make(chan os.Signal, 1)
	go func() {
		for {
			select {
			case <-quit:
				return
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					s.log.Warn("config_reload", "result", "ignored", "error", "shutting down; the reload is not applied")
					continue
				}
				stop <- sig
				return
			}
		}
	}()
	return stop
}

func (s *Server) forced(sig os.Signal) int {
	s.Close()
	s.log.Warn("shutdown_complete", "result", "forced", "signal", sig.String())
	return 1
}

// Close stops everything at once: listeners, connections, tunnels, actors.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
	if s.proxy != nil {
		s.proxy.tunnels.each(func(t *tunnel) { t.close() })
	}
	if s.dbg != nil {
		s.dbg.Close()
	}
	s.pools.CloseIdle()
	s.sup.Shutdown()
}
