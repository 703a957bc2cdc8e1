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
// signal on stops ends the build, the compilers it started included, and
// returns errInterrupted.
func build(root, bin string, stdout, stderr io.Writer, stops <-chan os.Signal) error {
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	detach(cmd)
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
	case <-stops:
		killGroup(cmd.Process)
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

// demoInfo is what the demo tells about itself once ferrum is up.
type demoInfo struct {
	base     string        // ferrum's URL, from server.listen
	config   string        // the file ferrum runs on and re-reads on SIGHUP
	backends []backendSpec // the backends the demo started
	down     []string      // backend addresses in config that nothing of the demo's serves
}

// supervise watches a started ferrum until it exits and returns its exit
// code. It prints the banner once ferrum answers /health. A signal on stops
// becomes one SIGTERM for ferrum (a second signal, a second SIGTERM, which
// makes ferrum exit at once), and ferrum is killed killAfter the first. A
// signal on reloads becomes a SIGHUP for ferrum, held until ferrum answers
// /health: before that ferrum may not catch SIGHUP yet, and would die of it.
// A reload whose notice cannot be written means the terminal hung up, and
// stops ferrum instead: nobody is left to watch or stop the demo.
func supervise(p *proxyProcess, info demoInfo, stops, reloads <-chan os.Signal, stdout, stderr io.Writer) int {
	pollCtx, stopPoll := context.WithCancel(context.Background())
	healthy := make(chan error, 1)
	go func() { healthy <- waitHealthy(pollCtx, info.base+"/health", healthDeadline, healthPollEvery) }()
	defer func() {
		stopPoll()
		if healthy != nil {
			<-healthy
		}
	}()

	var (
		kill      <-chan time.Time // set by the first stop request
		up        bool             // ferrum answered /health
		held      bool             // a reload came before ferrum was up
		unhealthy bool
	)
	pid := p.cmd.Process.Pid
	stop := func() {
		stopPoll()
		if kill == nil {
			kill = time.After(killAfter)
		}
		terminate(p.cmd.Process)
	}
	forward := func() {
		if err := reload(p.cmd.Process); err != nil {
			fmt.Fprintf(stderr, "demo: reload ferrum (pid %d): %v\n", pid, err)
		}
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
				up = true
				fmt.Fprint(stdout, banner(info, pid, os.Getpid()))
				if held {
					held = false
					fmt.Fprintln(stdout, "demo: ferrum is up; passing on the SIGHUP that came before")
					forward()
				}
			default:
				fmt.Fprintf(stderr, "demo: ferrum is not healthy: %v; stopping it\n", err)
				unhealthy = true
				stop()
			}
		case <-stops:
			if kill == nil {
				fmt.Fprintln(stdout, "demo: stopping ferrum (it drains first; Ctrl-C again stops it at once)")
			}
			stop()
		case <-reloads:
			var err error
			switch {
			case kill != nil:
				continue // ferrum is draining: nothing left to reload
			case !up:
				held = true
				_, err = fmt.Fprintln(stdout, "demo: SIGHUP: ferrum is not up yet; it reloads once it answers /health")
			default:
				_, err = fmt.Fprintf(stdout, "demo: SIGHUP: ferrum (pid %d) re-reads %s\n", pid, info.config)
			}
			if err != nil {
				fmt.Fprintf(stderr, "demo: SIGHUP with the output gone (%v): the terminal hung up; stopping ferrum\n", err)
				stop()
				continue
			}
			if up {
				forward()
			}
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

// banner is what the demo prints once ferrum (pid ferrumPID) is up; the
// demo's own pid is demoPID.
func banner(info demoInfo, ferrumPID, demoPID int) string {
	var b strings.Builder
	base := info.base
	fmt.Fprintf(&b, "\nferrum is up at %s (pid %d), on %s\n", base, ferrumPID, info.config)
	names := make([]string, len(info.backends))
	for i, s := range info.backends {
		names[i] = s.name + " (" + s.addr + ")"
	}
	fmt.Fprintf(&b, "backends: %s\n", strings.Join(names, ", "))
	if len(info.down) > 0 {
		fmt.Fprintf(&b, "down on purpose (the demo does not start them): %s\n", strings.Join(info.down, ", "))
	}
	fmt.Fprintf(&b, "\nTry:\n")
	fmt.Fprintf(&b, "  curl -i %s/api/users         # twice: two different backends answer\n", base)
	fmt.Fprintf(&b, "  curl -i %s/static/logo.png\n", base)
	fmt.Fprintf(&b, "  curl -i %s/health/backends   # a down backend drops out of rotation after a few failures\n", base)
	fmt.Fprintf(&b, "  curl -i %s/metrics\n\n", base)
	fmt.Fprintf(&b, "Reload: edit %s, then\n", info.config)
	fmt.Fprintf(&b, "  kill -HUP %d    # ferrum re-reads the file (a bad file changes nothing; ferrum logs why)\n", ferrumPID)
	fmt.Fprintf(&b, "  kill -HUP %d    # the same, through the demo\n", demoPID)
	fmt.Fprintf(&b, "Stop: Ctrl-C, or kill %d: ferrum drains, then the backends stop.\n\n", demoPID)
	return b.String()
}
