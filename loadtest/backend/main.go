// Command backend runs one fake backend for trying out, testing and
// benchmarking ferrum: it answers every request with its name and what it
// received, and can be made slow, large or failing by flags or, per request,
// by query knobs (see package ferrum/loadtest/fakebackend).
//
//	go run ./loadtest/backend -port 3001
//	go run ./loadtest/backend -listen 127.0.0.1:3002 -name api-b -fail-every 4
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"ferrum/loadtest/fakebackend"
)

// shutdownGrace bounds how long in-flight requests may finish after a
// signal; then their contexts are cancelled and the connections closed.
const shutdownGrace = 5 * time.Second

// config is the parsed command line.
type config struct {
	listen string
	// name may be empty until the listener's port is known.
	name string
	opts fakebackend.Options
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run serves until ctx ends, then shuts down; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "backend:", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(stderr, "backend: %v\n", err)
		return 1
	}
	if cfg.name == "" {
		cfg.name = "backend-" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	cfg.opts.Name = cfg.name

	// Requests run under reqCtx, which is cancelled only when the grace
	// period is over, so delayed and streaming answers end with the server.
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := fakebackend.NewServer(cfg.opts)
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "backend %s listening on %s\n", cfg.name, ln.Addr())

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "backend %s: serve: %v\n", cfg.name, err)
		return 1
	case <-ctx.Done():
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	code := 0
	if err := srv.Shutdown(graceCtx); err != nil {
		fmt.Fprintf(stderr, "backend %s: shutdown: %v; closing open connections\n", cfg.name, err)
		cancelRequests()
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
		cfg    config
		port   int
		status int
	)
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:3001", "`address` to listen on")
	fs.IntVar(&port, "port", 0, "shorthand for -listen 127.0.0.1:`PORT`")
	fs.StringVar(&cfg.name, "name", "", "name in the body and X-Backend header (default \"backend-<port>\")")
	fs.IntVar(&status, "status", 200, "status of normal answers")
	fs.DurationVar(&cfg.opts.Delay, "delay", 0, "wait this long before answering")
	fs.IntVar(&cfg.opts.BodyBytes, "body-bytes", 0, "response body size in bytes (0: just the name line)")
	fs.IntVar(&cfg.opts.FailEvery, "fail-every", 0, "answer -fail-status to every Nth request (0: never)")
	fs.IntVar(&cfg.opts.FailStatus, "fail-status", 503, "status of failing answers")
	fs.IntVar(&cfg.opts.HealthStatus, "health-status", 200, "status of GET /health")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.opts.Status = status

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["port"] {
		if set["listen"] {
			return config{}, errors.New("-listen and -port both given; use one")
		}
		if port < 0 || port > 65535 {
			return config{}, fmt.Errorf("-port %d: want 0..65535", port)
		}
		cfg.listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	if err := cfg.opts.Validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}
