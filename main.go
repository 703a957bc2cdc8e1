// Command ferrum is an HTTP reverse proxy: it matches each request to a route
// by path prefix, picks a healthy backend, and streams the request to it and
// the response back. See README.md and docs/configuration.md.
//
// main is the composition root: it reads the configuration, starts the log
// sink, the supervisor and the actor tree, opens the listeners, and runs
// them with the signal loop as one run group, so the first to end stops the
// rest and the actors stop last.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"ferrum/actors"
	"ferrum/actors/logsink"
	"ferrum/actors/proxy"
	"ferrum/proxyconf"
	"ferrum/supervisor"
	"ferrum/supervisor/systemd"
)

// version is stamped in at build time by `just build`
// (-ldflags "-X main.version=v1.2.3"); empty otherwise.
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// buildVersion is the stamped version, else the module version the build
// information records, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what -version prints: the version, the VCS revision and
// its time from the build information, and the Go version.
func versionLine() string {
	rev, at, dirty := "unknown", "", false
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty {
		rev += "+dirty"
	}
	line := "ferrum " + buildVersion() + " revision " + rev
	if at != "" {
		line += " (" + at + ")"
	}
	return line + " " + goVersion
}

// usage prints what -h shows: the command line, signals, environment,
// endpoints and where the documentation is.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `ferrum: an HTTP/1.1 reverse proxy that routes by path prefix.

Usage:
  ferrum [-config ferrum.toml]    run the proxy (default config: ./ferrum.toml)
  ferrum -check [-config FILE]    validate the config, print the route table, exit 0 or 1
  ferrum -version                 print version, VCS revision and time, and Go version
  ferrum -h                       this help

Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Signals:
  SIGHUP            re-read the config file and apply it without dropping a connection
                    (a bad file changes nothing); systemd: systemctl reload ferrum
  SIGTERM, SIGINT   drain: /health turns 503, serve for server.shutdown_delay with
                    "Connection: close", stop accepting, let requests finish within
                    server.graceful_shutdown_timeout, exit 0 (1 if requests were cut off)
  a second signal   exit 1 at once

Environment:
  FERRUM_DEBUG_TOKEN      bearer token for /health/backends and /metrics (overrides debug.auth_token)
  GOGC, GOMEMLIMIT        Go's garbage collector settings (Go's defaults; see docs/benchmarking.md)
  LISTEN_FDS, LISTEN_PID  systemd socket activation: serve server.listen on the inherited socket
  NOTIFY_SOCKET           systemd Type=notify: READY=1, RELOADING=1, STOPPING=1

Endpoints:
  GET /health             200 while serving, 503 once a drain began
  GET /health/backends    backend health per route (JSON, or text/plain)
  GET /metrics            Prometheus metrics
  (the last two may be moved to debug.listen and guarded by debug.auth_token)

Documentation: README.md, docs/configuration.md, docs/deploy.md
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferrum", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "ferrum.toml", "configuration file")
	check := fs.Bool("check", false, "validate the configuration, print the route table and exit")
	showVersion := fs.Bool("version", false, "print version, VCS revision and time, and Go version, and exit")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		// A stray word is most likely a config file given without -config.
		fmt.Fprintf(stderr, "ferrum: unexpected argument %q; to use a config file, pass -config %s\n", fs.Arg(0), fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	cfg, err := proxyconf.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *check {
		fmt.Fprint(stdout, cfg.RouteTable())
		return 0
	}
	// Log lines go through a sink actor so a slow stderr never holds up a
	// request; it is stopped last, after the final line.
	sink := logsink.New(stderr, 4096)
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sinkDone := make(chan struct{})
	go func() { defer close(sinkDone); _ = sink.Run(sinkCtx) }()
	defer func() { stopSink(); <-sinkDone }()

	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if cfg.Log.Format == "json" {
		log = slog.New(slog.NewJSONHandler(sink, opts))
	} else {
		log = slog.New(slog.NewTextHandler(sink, opts))
	}
	metrics := proxy.NewMetrics(buildVersion(), func() float64 { return float64(sink.Dropped()) })
	return serve(cfg, log, level, metrics)
}

// errForced ends a drain cut short by a second signal.
var errForced = errors.New("second signal")

// serve runs ferrum until a signal or a fatal failure and returns the exit
// code.
func serve(cfg *proxyconf.Config, log *slog.Logger, level *slog.LevelVar, metrics *proxy.Metrics) int {
	// Signals are caught before the listener opens, so none is missed.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	sup := supervisor.New(log, supervisor.DefaultPolicy)
	defer sup.Shutdown()
	tree, err := actors.StartTree(context.Background(), sup, log, cfg)
	if err != nil {
		log.Error("server_start_failed", "error", err.Error())
		return 1
	}
	srv := proxy.NewServer(proxy.Options{Log: log, Level: level, Version: buildVersion(), Metrics: metrics, Config: cfg, Tree: tree})
	defer srv.Close()
	sup.Start(srv.Janitor())
	if cfg.Server.FailOnDeadPool {
		if err := srv.CheckPools(context.Background()); err != nil {
			log.Error("server_start_failed", "error", err.Error())
			return 1
		}
	}
	ln, dln, err := listeners(cfg, log)
	if err != nil {
		log.Error("server_start_failed", "error", err.Error())
		return 1
	}
	g := supervisor.Group{StopTimeout: supervisor.DefaultPolicy.StopTimeout, Log: log}
	g.Add("supervisor", sup.Run)
	g.Add("listener "+ln.Addr().String(), func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	if dln != nil {
		g.Add("debug listener "+dln.Addr().String(), func(ctx context.Context) error { return srv.ServeDebug(ctx, dln) })
		log.Info("debug_listen", "listen", dln.Addr().String())
	}
	notify := systemd.NewNotifier(os.Getenv)
	g.Add("signals", func(ctx context.Context) error { return signals(ctx, srv, sigs, log, notify) })
	log.Info("server_start", "listen", ln.Addr().String(), "routes", len(cfg.Routes), "version", buildVersion(), "config", cfg.File)
	_ = notify.Notify("READY=1")

	err = g.Run(context.Background())
	var ended *supervisor.Ended
	switch {
	case err == nil:
		log.Info("shutdown_complete", "result", "drained")
		return 0
	case errors.Is(err, errForced):
		log.Warn("shutdown_complete", "result", "forced", "error", err.Error())
	case errors.Is(err, proxy.ErrDrainDeadline):
		log.Warn("shutdown_complete", "result", "deadline", "error", err.Error())
	case errors.As(err, &ended):
		log.Error("shutdown_complete", "result", "failure", "member", ended.Member, "error", ended.Err.Error())
	default:
		log.Error("shutdown_complete", "result", "failure", "error", err.Error())
	}
	return 1
}

// listeners returns the client listener and, when debug.listen is set, the
// debug one: the sockets systemd passed (socket activation: the first is
// server.listen's, a second debug.listen's), or new ones.
func listeners(cfg *proxyconf.Config, log *slog.Logger) (ln, dln net.Listener, err error) {
	inherited, err := systemd.Listeners(os.Getenv, os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	if len(inherited) > 0 {
		ln = inherited[0]
		log.Info("socket_activation", "listen", ln.Addr().String(), "sockets", len(inherited), "server.listen", cfg.Server.Listen)
	} else if ln, err = listen(cfg.File, "server.listen", cfg.Server.Listen); err != nil {
		return nil, nil, err
	}
	if cfg.Debug.Listen == "" {
		for _, extra := range inherited[min(1, len(inherited)):] {
			extra.Close()
		}
		return ln, nil, nil
	}
	if len(inherited) > 1 {
		return ln, inherited[1], nil
	}
	if dln, err = listen(cfg.File, "debug.listen", cfg.Debug.Listen); err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, dln, nil
}

// listen opens a listener for key's address, with an error that says what
// to do about it.
func listen(file, key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w; %s", file, key, err, listenHint(err, key))
	}
	return ln, nil
}

// listenHint says what to do about a failure to listen.
func listenHint(err error, key string) string {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "another process holds the address: stop it, or change " + key
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no interface of this machine has that address: use one it has, or 0.0.0.0"
	case errors.Is(err, syscall.EACCES):
		return "ports below 1024 need CAP_NET_BIND_SERVICE (see deploy/systemd), or use a higher port"
	case errors.As(err, &dns):
		return "the host name does not resolve: use an IP address, or fix the name"
	}
	return "check " + key
}

// signals is the run group's signal member: SIGHUP reloads; SIGTERM or
// SIGINT drains, and its return ends the group.
func signals(ctx context.Context, srv *proxy.Server, sigs <-chan os.Signal, log *slog.Logger, notify *systemd.Notifier) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = notify.Notify(systemd.Reloading())
				reload(srv)
				_ = notify.Notify("READY=1")
				continue
			}
			_ = notify.Notify("STOPPING=1")
			return drain(ctx, srv, sig, sigs, log)
		}
	}
}

// reloader is what a reload needs of the server.
type reloader interface {
	Config() *proxyconf.Config
	Apply(*proxyconf.Config) error
	ReloadFailed(error)
}

// reload re-reads the file in force and applies it. Whatever goes wrong,
// a panic included, is a failed reload: logged, counted, old config kept.
func reload(srv reloader) {
	path := srv.Config().File
	err := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("reload %s: panic: %v", path, v)
			}
		}()
		cfg, err := proxyconf.Load(path)
		if err != nil {
			return err
		}
		return srv.Apply(cfg)
	}()
	if err != nil {
		srv.ReloadFailed(err)
	}
}

// drain shuts down gracefully after sig: /health turns 503, traffic is
// served for shutdown_delay, then the listeners close and in-flight requests
// get graceful_shutdown_timeout. Another SIGTERM or SIGINT ends it at once
// (errForced); a SIGHUP is logged and ignored. It returns nil when drained,
// proxy.ErrDrainDeadline when requests were cut off.
func drain(ctx context.Context, srv *proxy.Server, sig os.Signal, sigs <-chan os.Signal, log *slog.Logger) error {
	c := srv.Config().Server
	srv.StartDrain()
	log.Info("shutdown_started", "signal", sig.String(), "shutdown_delay", c.ShutdownDelay,
		"graceful_shutdown_timeout", c.GracefulShutdownTimeout)
	delay := time.NewTimer(c.ShutdownDelay)
	defer delay.Stop()
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			return nil
		case <-delay.C:
			waiting = false
		case again := <-sigs:
			if err := secondSignal(again, log); err != nil {
				return err
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, c.GracefulShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(sctx) }()
	for {
		select {
		case err := <-done:
			return err
		case again := <-sigs:
			if err := secondSignal(again, log); err != nil {
				cancel()
				<-done
				return err
			}
		}
	}
}

// secondSignal handles a signal that arrives during a drain: a SIGHUP is
// ignored, anything else forces the exit.
func secondSignal(sig os.Signal, log *slog.Logger) error {
	if sig == syscall.SIGHUP {
		log.Warn("config_reload", "result", "ignored", "error", "shutting down; the reload is not applied")
		return nil
	}
	return fmt.Errorf("%w %s during the drain", errForced, sig)
}
