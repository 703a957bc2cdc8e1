// Command ferrum is an HTTP reverse proxy: it matches each request to a route
// by path prefix, picks a healthy backend, and streams the request to it and
// the response back. See README.md and docs/configuration.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"ferrum/actors/logsink"
	"ferrum/actors/proxy"
	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferrum", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "ferrum.toml", "configuration file")
	check := fs.Bool("check", false, "validate the configuration, print the route table and exit")
	showVersion := fs.Bool("version", false, "print version and Go version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "ferrum %s %s\n", version, runtime.Version())
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
	log := newLogger(cfg.Log, sink)
	metrics := proxy.NewMetrics(version, func() float64 { return float64(sink.Dropped()) })
	return serve(cfg, log, metrics)
}

func newLogger(c proxyconf.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the proxy on cfg until a signal or a fatal actor failure, and
// returns the exit code.
func serve(cfg *proxyconf.Config, log *slog.Logger, metrics *proxy.Metrics) int {
	sup := supervisor.New(log, supervisor.DefaultPolicy)
	defer sup.Shutdown()
	ctx := context.Background()
	tree, err := sup.StartTree(ctx, cfg)
	if err != nil {
		log.Error("server_start_failed", "error", err.Error())
		return 1
	}
	if cfg.Server.FailOnDeadPool {
		if code := checkPools(ctx, cfg, tree, log); code != 0 {
			return code
		}
	}
	pools := proxy.NewPools()
	defer pools.CloseIdle()
	p := proxy.New(log, version, proxy.BuildTable(cfg, tree, pools, metrics), metrics)

	// Signals are caught before the listener opens, so none is missed.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	srv := p.NewServer(cfg)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		log.Error("server_start_failed", "error", fmt.Sprintf("%s: server.listen: %v; free the address or change server.listen", cfg.File, err))
		return 1
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(proxy.Patient(ln, log)) }()
	var dbg *http.Server
	if cfg.Debug.Listen != "" {
		dln, err := net.Listen("tcp", cfg.Debug.Listen)
		if err != nil {
			log.Error("server_start_failed", "error", fmt.Sprintf("%s: debug.listen: %v; free the address or change debug.listen", cfg.File, err))
			srv.Close()
			return 1
		}
		dbg = &http.Server{Handler: p.DebugHandler(), ReadHeaderTimeout: cfg.Server.ClientHeaderTimeout}
		go func() { serveErr <- dbg.Serve(proxy.Patient(dln, log)) }()
		log.Info("debug_listen", "listen", dln.Addr().String())
	}
	log.Info("server_start", "listen", ln.Addr().String(), "routes", len(cfg.Routes), "version", version, "config", cfg.File)

	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				log.Warn("config_reload", "result", "failure", "error", "reload is not supported yet; restart ferrum to apply changes")
				continue
			}
			return drain(cfg, p, srv, dbg, sigs, log, sig)
		case err := <-sup.Fatal():
			log.Error("shutdown_started", "reason", "actor failure", "error", err.Error())
			srv.Close()
			return 1
		case err := <-serveErr:
			if !errors.Is(err, http.ErrServerClosed) {
				log.Error("server_failed", "error", err.Error())
				return 1
			}
		}
	}
}

// checkPools enforces fail_on_dead_pool: every route needs a backend that
// passed its first probe.
func checkPools(ctx context.Context, cfg *proxyconf.Config, tree *supervisor.Tree, log *slog.Logger) int {
	var wait time.Duration
	for _, r := range cfg.Routes {
		wait = max(wait, r.Health.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, wait+2*time.Second)
	defer cancel()
	dead, err := tree.DeadPools(ctx)
	if err != nil {
		log.Error("server_start_failed", "error", err.Error())
		return 1
	}
	for _, d := range dead {
		log.Error("server_start_failed", "reason", "fail_on_dead_pool", "error", d)
	}
	if len(dead) > 0 {
		return 1
	}
	return 0
}

// drain shuts down gracefully: /health turns 503, traffic is served for
// shutdown_delay, then the listeners close and in-flight requests get up to
// graceful_shutdown_timeout. A second signal exits at once.
func drain(cfg *proxyconf.Config, p *proxy.Proxy, srv, dbg *http.Server, sigs <-chan os.Signal, log *slog.Logger, sig os.Signal) int {
	p.StartDrain()
	log.Info("shutdown_started", "signal", sig.String(), "shutdown_delay", cfg.Server.ShutdownDelay,
		"graceful_shutdown_timeout", cfg.Server.GracefulShutdownTimeout)
	delay := time.NewTimer(cfg.Server.ShutdownDelay)
	defer delay.Stop()
	select {
	case <-delay.C:
	case s := <-sigs:
		log.Warn("shutdown_complete", "result", "forced", "signal", s.String())
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.GracefulShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	if dbg != nil {
		defer dbg.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			srv.Close()
			log.Warn("shutdown_complete", "result", "deadline", "error", "graceful_shutdown_timeout cut requests off")
			return 1
		}
	case s := <-sigs:
		srv.Close()
		log.Warn("shutdown_complete", "result", "forced", "signal", s.String())
		return 1
	}
	log.Info("shutdown_complete", "result", "drained")
	return 0
}
