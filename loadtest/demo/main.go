// Command demo runs ferrum against local backends with one command:
//
//	go run ./loadtest/demo [-config FILE] [-backends LIST] [-ferrum-bin FILE]
//
// It starts fake backends (by default on 127.0.0.1:3001, 3002 and 4000;
// 3003 stays down on purpose: the shipped ferrum.toml lists it to show an
// unhealthy backend), builds ferrum from the module root, runs it on the
// config file (the root's ferrum.toml unless -config names another), and
// once ferrum answers /health on the config's server.listen prints ferrum's
// PID and the curl lines to try.
//
// Signals to the demo: SIGHUP is forwarded to ferrum, which re-reads its
// config file; the demo and the backends keep running. Ctrl-C (or SIGTERM)
// is forwarded to ferrum as one SIGTERM, so it drains before the backends
// stop; the demo exits with ferrum's exit code. When ferrum exits on its
// own, the demo stops the backends and exits too.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"ferrum/proxyconf"
)

// defaultBackends are the backends the shipped ferrum.toml points at.
const defaultBackends = "api-3001=127.0.0.1:3001,api-3002=127.0.0.1:3002,static-4000=127.0.0.1:4000"

// options is the parsed command line.
type options struct {
	config    string        // empty: <module root>/ferrum.toml
	ferrumBin string        // empty: build ferrum into a temporary directory
	backends  []backendSpec // the backends to start, never empty
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole demo; it returns the exit code, after every deferred
// cleanup (backends stopped, temporary directory removed) has run.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 2
	}
	// Registered first, so a signal during the build is ours to handle: a
	// stop ends the build, a reload waits for ferrum to be up.
	stops := make(chan os.Signal, 2)
	signal.Notify(stops, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stops)
	reloads := make(chan os.Signal, 1)
	notifyReload(reloads)
	defer signal.Stop(reloads)

	var root string
	if opts.config == "" || opts.ferrumBin == "" {
		if root, err = moduleRoot(); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
	}
	if opts.config == "" {
		opts.config = filepath.Join(root, "ferrum.toml")
	}
	if _, err := os.Stat(opts.config); err != nil {
		fmt.Fprintf(stderr, "demo: config %s: %v; pass -config FILE\n", opts.config, errors.Unwrap(err))
		return 1
	}
	// ferrum would refuse a bad file too, but only after the backends
	// started and the build ran; and the demo needs server.listen.
	cfg, err := proxyconf.Load(opts.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "demo: ferrum would refuse %s; fix it, or pass -config FILE\n", opts.config)
		return 1
	}
	base, err := baseURL(cfg.Server.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %s: server.listen: %v\n", opts.config, err)
		return 1
	}
	if err := checkFree(cfg.File, cfg.Server.Listen); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}

	backends, err := startBackends(opts.backends, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer backends.stop()
	for _, b := range opts.backends {
		fmt.Fprintf(stdout, "demo: backend %s listening on %s\n", b.name, b.addr)
	}

	bin := opts.ferrumBin
	if bin == "" {
		tmp, err := os.MkdirTemp("", "ferrum-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "ferrum"+exeSuffix())
		fmt.Fprintf(stdout, "demo: building ferrum in %s\n", root)
		if err := build(root, bin, stdout, stderr, stops); err != nil {
			if errors.Is(err, errInterrupted) {
				return 0
			}
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
	}

	fmt.Fprintf(stdout, "demo: starting %s -config %s\n", bin, opts.config)
	proxy, err := startProxy(bin, opts.config, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	info := demoInfo{
		base:     base,
		config:   opts.config,
		backends: opts.backends,
		down:     notStarted(cfg, opts.backends),
	}
	return supervise(proxy, info, stops, reloads, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	opts := options{backends: mustParseBackends(defaultBackends)}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.config, "config", "", "ferrum config `file`; ferrum listens on its server.listen (default <module root>/ferrum.toml)")
	fs.StringVar(&opts.ferrumBin, "ferrum-bin", "", "run this ferrum `binary` instead of building one")
	fs.Func("backends", "demo backends to start, as comma-separated `name=host:port` (default "+defaultBackends+")",
		func(s string) (err error) {
			opts.backends, err = parseBackends(s)
			return err
		})
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./loadtest/demo [flags]   (or: just demo [flags])\n\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nSIGHUP to the demo reloads ferrum; Ctrl-C or SIGTERM stops ferrum (it drains), then the backends.\n")
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q; to use a config file, pass -config %s", fs.Arg(0), fs.Arg(0))
	}
	return opts, nil
}

// parseBackends reads a -backends list: "name=host:port" items separated
// by commas, each name and address used once.
func parseBackends(s string) ([]backendSpec, error) {
	var specs []backendSpec
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("%q: want name=host:port", item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: want name=host:port: %w", item, err)
		}
		if seen[name] || seen[addr] {
			return nil, fmt.Errorf("%q: name or address given twice", item)
		}
		seen[name], seen[addr] = true, true
		specs = append(specs, backendSpec{name: name, addr: addr})
	}
	return specs, nil
}

// mustParseBackends is parseBackends for the constant default.
func mustParseBackends(s string) []backendSpec {
	specs, err := parseBackends(s)
	if err != nil {
		panic(err)
	}
	return specs
}

// notStarted lists, in config order, the backend addresses of cfg that no
// demo backend listens on: ferrum will find them down.
func notStarted(cfg *proxyconf.Config, started []backendSpec) []string {
	seen := map[string]bool{}
	for _, s := range started {
		seen[s.addr] = true
	}
	var down []string
	for _, r := range cfg.Routes {
		for _, b := range r.Backends {
			if !seen[b.Host] {
				seen[b.Host] = true
				down = append(down, b.Host)
			}
		}
	}
	return down
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
