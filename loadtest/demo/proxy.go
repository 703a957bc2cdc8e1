package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	// healthDeadline bounds the wait for ferrum's first 200 on /health.
	healthDeadline = 30 * time.Second
	// healthPollEvery is the pause between two /health attempts.
	healthPollEvery = 100 * time.Millisecond
	// killAfter is how long ferrum may drain after the forwarded SIGTERM
	// before it is killed; ferrum's default drain is 30s.
	killAfter = 35 * time.Second
)

// errInterrupted reports that a signal ended the demo before ferrum ran.
var errInterrupted = errors.New("interrupted")

// moduleRoot asks the go command where the module's go.mod is.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return rootFromGOMOD(string(out))
}

// rootFromGOMOD turns the output of `go env GOMOD` into the module root.
func rootFromGOMOD(out string) (string, error) {
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run the demo from the ferrum repository (go run ./loadtest/demo)")
	}
	return filepath.Dir(gomod), nil
}

// build runs `go build -o bin .` in root, passing its output through. A
// signal kills the build and returns errInterrupted.
func build(root, bin string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("build ferrum: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("build ferrum in %s: %w", root, err)
		}
		return nil
	case <-sigs:
		cmd.Process.Kill()
		<-done
		return errInterrupted
	}
}

// proxyProcess is a running ferrum. Its waiting goroutine writes err and
// then closes done; nobody else writes either.
type proxyProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProxy starts bin -config config with its output passed through.
func startProxy(bin, config string, stdout, stderr io.Writer) (*proxyProcess, error) {
	cmd := exec.Command(bin, "-config", config)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ferrum: %w", err)
	}
	p := &proxyProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exitCode is ferrum's exit code; a death by signal counts as 1. Call it
// only after done is closed.
func (p *proxyProcess) exitCode() int {
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		return 1
	}
}

// supervise watches a started ferrum until it exits and returns its exit
// code. It prints the banner once ferrum answers /health; a signal becomes
// one SIGTERM for ferrum (a second signal, a second SIGTERM, which makes
// ferrum exit at once), and ferrum is killed killAfter the first.
func supervise(p *proxyProcess, proxyAddr string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	base, _ := baseURL(proxyAddr) // checked by parseFlags
	pollCtx, stopPoll := context.WithCancel(context.Background())
	healthy := make(chan error, 1)
	go func() { healthy <- waitHealthy(pollCtx, base+"/health", healthDeadline, healthPollEvery) }()
	defer func() {
		stopPoll()
		if healthy != nil {
			<-healthy
		}
	}()

	var (
		kill      <-chan time.Time // set by the first stop request
		unhealthy bool
	)
	stop := func() {
		stopPoll()
		if kill == nil {
			kill = time.After(killAfter)
		}
		terminate(p.cmd.Process)
	}
	for {
		select {
		case <-p.done:
			code := p.exitCode()
			if kill == nil {
				fmt.Fprintf(stderr, "demo: ferrum exited with code %d; stopping the backends\n", code)
			}
			if unhealthy && code == 0 {
				code = 1
			}
			return code
		case err := <-healthy:
			healthy = nil
			switch {
			case kill != nil:
				// Already stopping; stop cancelled the poll.
			case err == nil:
				fmt.Fprint(stdout, banner(base))
			default:
				fmt.Fprintf(stderr, "demo: ferrum is not healthy: %v; stopping it\n", err)
				unhealthy = true
				stop()
			}
		case <-sigs:
			if kill == nil {
				fmt.Fprintln(stdout, "demo: stopping ferrum (it drains first; Ctrl-C again stops it at once)")
			}
			stop()
		case <-kill:
			fmt.Fprintf(stderr, "demo: ferrum still running %v after SIGTERM; killing it\n", killAfter)
			p.cmd.Process.Kill()
			<-p.done
			return 1
		}
	}
}

// waitHealthy polls url every `every` until it answers 200, ctx ends, or
// timeout passes; the error then carries the last failure.
func waitHealthy(ctx context.Context, url string, timeout, every time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last error
	for {
		err := probe(ctx, client, url)
		if err == nil {
			return nil
		}
		// An attempt cut short by ctx says less than the one before it.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s: no 200 within %v: %w", url, timeout, last)
		case <-tick.C:
		}
	}
}

// probe makes one GET url and reports why it was not a 200.
func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// banner is what the demo prints once ferrum is up at base.
func banner(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nferrum is up at %s\n", base)
	fmt.Fprintf(&b, "backends: api-3001, api-3002 and static-4000; 127.0.0.1:3003 is down on purpose\n\n")
	fmt.Fprintf(&b, "Try:\n")
	fmt.Fprintf(&b, "  curl -i %s/api/users         # twice: two different backends answer\n", base)
	fmt.Fprintf(&b, "  curl -i %s/static/logo.png\n", base)
	fmt.Fprintf(&b, "  curl -i %s/health/backends   # 3003 drops out of rotation after a few failures\n", base)
	fmt.Fprintf(&b, "  curl -i %s/metrics\n\n", base)
	fmt.Fprintf(&b, "Ctrl-C stops ferrum (it drains first), then the backends.\n\n")
	return b.String()
}
