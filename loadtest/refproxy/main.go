// Command refproxy is the plain Go reverse proxy that ferrum's load-test
// harness measures ferrum against: net/http/httputil.ReverseProxy over the
// default http.Transport, on net/http's server, going round robin over its
// backends. It has no retries, no health checks, no connection tuning and
// no configuration beyond its flags. It answers the question "how much does
// ferrum gain over the obvious Go proxy?" on the same machine, in the same
// run. It is the harness's `httputil` target (see docs/benchmarking.md), not
// something to put in front of real traffic.
//
//	go run ./loadtest/refproxy -listen 127.0.0.1:8081 -backends http://127.0.0.1:3001,http://127.0.0.1:3002
//
// It answers GET /health with 200 itself, so the harness can wait for it.
// Every other request goes to the next backend. It prints one line once it
// listens and shuts down on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request head, so slow clients cannot hold connections forever.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout is how long an idle client connection is kept open. It
	// matches the harness's setting for ferrum and the other proxies.
	idleTimeout = 90 * time.Second
	// shutdownGrace bounds how long in-flight requests may finish after a
	// signal before the open connections are closed.
	shutdownGrace = 5 * time.Second
)

// versionLine is what -version prints: what this program is, and the Go
// release it was built with, since that release decides its speed.
var versionLine = "refproxy: net/http/httputil.ReverseProxy, default http.Transport, " + runtime.Version()

// floorVersionLine is what -floor -version prints.
var floorVersionLine = "refproxy -floor: a goroutine per connection passing bytes, " + runtime.Version()

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	listen   string
	backends []*url.URL
	version  bool
	floor    bool // the floor mode (floor.go) instead of httputil
}

// run serves until ctx ends, then shuts down; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "refproxy:", err)
		return 2
	}
	if cfg.version {
		line := versionLine
		if cfg.floor {
			line = floorVersionLine
		}
		fmt.Fprintln(stdout, line)
		return 0
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintln(stderr, "refproxy:", err)
		return 1
	}
	if cfg.floor {
		return runFloor(ctx, ln, cfg.backends, stdout, stderr)
	}
	errLog := log.New(stderr, "refproxy: ", log.LstdFlags)
	srv := &http.Server{
		Handler:           newHandler(cfg.backends, errLog),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          errLog,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "refproxy listening on %s\n", ln.Addr())

	select {
	case err := <-served:
		fmt.Fprintln(stderr, "refproxy: serve:", err)
		return 1
	case <-ctx.Done():
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	code := 0
	if err := srv.Shutdown(graceCtx); err != nil {
		fmt.Fprintf(stderr, "refproxy: shutdown: %v; closing open connections\n", err)
		srv.Close()
		code = 1
	}
	<-served
	return code
}

// parseFlags turns the command line into a config. Errors and usage go to
// stderr through the flag package; a returned error is also for the caller
// to report.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var (
		cfg      config
		backends string
	)
	fs := flag.NewFlagSet("refproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8081", "`address` to listen on")
	fs.StringVar(&backends, "backends", "", "comma-separated `URLs` of the backends, taken in turn (required)")
	fs.BoolVar(&cfg.version, "version", false, "print what this program is and its Go release, then exit")
	fs.BoolVar(&cfg.floor, "floor", false, "pass bytes through a goroutine per connection instead of httputil: the least a Go proxy does (floor.go)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.version {
		return cfg, nil
	}
	var err error
	if cfg.backends, err = parseBackends(backends); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// parseBackends reads a comma-separated list of http:// or https:// URLs.
func parseBackends(list string) ([]*url.URL, error) {
	var out []*url.URL
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		u, err := url.Parse(item)
		if err != nil {
			return nil, fmt.Errorf("-backends: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-backends: %q: want http://host:port or https://host:port", item)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("-backends: give at least one backend URL")
	}
	return out, nil
}

// newHandler is the whole proxy: GET /health is answered here, everything
// else goes through one httputil.ReverseProxy to the next backend in turn.
// Its Transport is left nil, so it uses http.DefaultTransport exactly as
// the standard library ships it; that plainness is the point of the
// reference.
func newHandler(backends []*url.URL, errLog *log.Logger) http.Handler {
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			n := next.Add(1) - 1
			r.SetURL(backends[n%uint64(len(backends))])
			// Keep the client's Host and add X-Forwarded-*, as the harness
			// has ferrum and the other proxies do.
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		ErrorLog: errLog,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "ok\n")
			return
		}
		proxy.ServeHTTP(w, r)
	})
}
