//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"
)

// env is what every experiment shares: the binaries, the work directory
// and the command-line choices. Written by main before the first
// experiment, read-only afterwards.
type env struct {
	ferrumBin, backendBin string
	// work holds a directory per experiment with its configs and logs.
	work  string
	quick bool
	// wrkBin is wrk's path, or "" for the built-in load generator.
	wrkBin string
	// prlimitBin is util-linux prlimit's path, or "" to use the re-exec
	// wrapper for a low file limit.
	prlimitBin string
	// progress receives what the experiments are doing, for a human.
	progress io.Writer
}

// run is one experiment's run: its context (cancelled at its time bound or
// on Ctrl-C), its directory and everything it started. Its experiment's
// goroutine owns it; onCleanup and logf may be called from any goroutine.
type run struct {
	*env
	name  string
	ctx   context.Context
	dir   string
	procs *reaper

	mu       sync.Mutex
	cleanups []func() // written under mu
}

// dur picks the default or the -quick length of a phase.
func (r *run) dur(normal, quick time.Duration) time.Duration {
	if r.quick {
		return quick
	}
	return normal
}

// logf reports progress on the env's progress writer.
func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.progress, "torture: %s: %s\n", r.name, fmt.Sprintf(format, args...))
}

// onCleanup registers f to run when the experiment ends, after its
// processes are killed; the last registered runs first.
func (r *run) onCleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *run) cleanup() {
	r.procs.killAll()
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// experiment is one torture experiment.
type experiment struct {
	name  string
	about string
	// bound and quickBound are its hard time limits.
	bound, quickBound time.Duration
	// run measures and judges. It returns when r.ctx ends at the latest
	// (give or take the few seconds a teardown takes).
	run func(r *run) verdict
}

// afterBound is how long an experiment may take to return once its
// context has ended, before it is abandoned.
const afterBound = 10 * time.Second

// runExperiment runs e under its time bound and returns its verdict. It
// kills whatever e started, whatever happens, before it returns.
func runExperiment(ctx context.Context, e *env, x experiment) verdict {
	start := time.Now()
	bound := x.bound
	if e.quick {
		bound = x.quickBound
	}
	rctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	r := &run{env: e, name: x.name, ctx: rctx, dir: filepath.Join(e.work, x.name), procs: newReaper()}
	defer r.cleanup()
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return failed(x.name, err)
	}
	got := make(chan verdict, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				got <- failed(x.name, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		got <- x.run(r)
	}()
	var v verdict
	select {
	case v = <-got:
	case <-rctx.Done():
		t := time.NewTimer(afterBound)
		select {
		case v = <-got:
		case <-t.C:
			v = failed(x.name, fmt.Errorf("no verdict %v after its time bound; abandoned", afterBound))
		}
		t.Stop()
	}
	v.name = x.name
	switch {
	case ctx.Err() != nil:
		v.status = fail
		v.reasons = append(v.reasons, "interrupted")
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		v.status = fail
		v.reasons = append(v.reasons, fmt.Sprintf("hit its time bound of %v", bound))
	}
	v.took = time.Since(start)
	return v
}
