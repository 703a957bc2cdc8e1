// Command demo runs ferrum against local backends with one command:
//
//	go run ./loadtest/demo
//
// It starts fake backends on 127.0.0.1:3001, 3002 and 4000 (3003 stays down
// on purpose: the shipped ferrum.toml lists it to show an unhealthy backend),
// builds ferrum from the module root, runs it with the root's ferrum.toml,
// and once ferrum answers /health prints the curl lines to try. Ctrl-C (or
// SIGTERM) is forwarded to ferrum as one SIGTERM, so it drains before the
// backends stop; the demo exits with ferrum's exit code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
)

// demoBackends are the backends the shipped ferrum.toml points at.
var demoBackends = []backendSpec{
	{name: "api-3001", addr: "127.0.0.1:3001"},
	{name: "api-3002", addr: "127.0.0.1:3002"},
	{name: "static-4000", addr: "127.0.0.1:4000"},
}

// options is the parsed command line.
type options struct {
	config    string // empty: <module root>/ferrum.toml
	ferrumBin string // empty: build ferrum into a temporary directory
	proxy     string // the address ferrum listens on, as host:port
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
	// Registered first, so a Ctrl-C during the build is ours to handle.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

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
	if err := checkFree(opts.proxy); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}

	backends, err := startBackends(demoBackends, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer backends.stop()
	for _, b := range demoBackends {
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
		if err := build(root, bin, stdout, stderr, sigs); err != nil {
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
	return supervise(proxy, opts.proxy, sigs, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.config, "config", "", "ferrum config `file` (default <module root>/ferrum.toml)")
	fs.StringVar(&opts.ferrumBin, "ferrum-bin", "", "run this ferrum binary instead of building one")
	fs.StringVar(&opts.proxy, "proxy", "127.0.0.1:8080", "`address` ferrum listens on, as in server.listen")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := baseURL(opts.proxy); err != nil {
		return options{}, err
	}
	return opts, nil
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
