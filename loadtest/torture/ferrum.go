//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ferrum/loadtest/proc"
)

// startDeadline bounds how long ferrum may take from exec to answering
// 200 on /health.
const startDeadline = 20 * time.Second

// ferrum is one running ferrum under test.
type ferrum struct {
	*proc.Process
	// confPath is the ferrum.toml it runs with; reload_storm rewrites it.
	confPath string
	// addr is the "127.0.0.1:PORT" it serves on, from its server_start
	// line; base is "http://" + addr.
	addr, base string
	log        *logWatch
}

// wrapper is how ferrum is launched: behind a command prefix (such as
// prlimit) and with extra environment variables. The zero value runs
// ferrum directly with the torture command's environment.
type wrapper struct {
	prefix []string
	env    []string
}

// startFerrum writes c into the run's directory and starts ferrum on it
// through w. It returns once ferrum answers 200 on /health; on failure
// ferrum is killed and the error ends with the last lines of its log.
func (r *run) startFerrum(c conf, w wrapper) (*ferrum, error) {
	path := filepath.Join(r.dir, "ferrum.toml")
	if err := writeFileAtomic(path, c.toml()); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(r.dir, "ferrum.log"))
	if err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), w.prefix...), r.ferrumBin, "-config", path)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.dir
	if len(w.env) > 0 {
		cmd.Env = append(os.Environ(), w.env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	lw := newLogWatch()
	read := make(chan struct{})
	ch, err := r.procs.start("ferrum", cmd, func() { <-read })
	if err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		defer close(read)
		defer logFile.Close()
		lw.run(stderr, logFile)
	}()
	f := &ferrum{Process: ch, confPath: path, log: lw}
	if err := f.waitReady(r.ctx); err != nil {
		f.KillGroup()
		return nil, fmt.Errorf("start ferrum: %w; its log ends:\n  %s", err, strings.Join(lw.tail(8), "\n  "))
	}
	return f, nil
}

// waitReady waits for the server_start line, then for 200 on /health.
func (f *ferrum) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startDeadline)
	defer cancel()
	line, ok := f.log.waitFor(ctx.Done(), func(l logLine) bool { return isEvent(l, "server_start") })
	if !ok {
		if !f.WaitExit(time.Second) {
			return fmt.Errorf("no server_start line within %v", startDeadline)
		}
		return fmt.Errorf("exited before serving (%s)", f.Status())
	}
	f.addr = line.attrs["listen"]
	if f.addr == "" {
		return fmt.Errorf("server_start line has no listen address: %q", line.text)
	}
	f.base = "http://" + f.addr
	return poll(ctx, 50*time.Millisecond, func() bool {
		code, _, err := getText(ctx, f.base+"/health")
		return err == nil && code == http.StatusOK
	})
}

// poll calls cond every interval until it returns true (nil) or ctx ends
// (ctx's error). cond is called at once first.
func poll(ctx context.Context, interval time.Duration, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pollFor is poll bounded by d as well as ctx; it reports whether cond
// became true.
func pollFor(ctx context.Context, d, interval time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return poll(ctx, interval, cond) == nil
}

// sleep waits d or until ctx ends, and reports whether the whole d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// writeFileAtomic replaces path with text by renaming a temporary file
// over it, so a reload never reads a half-written file.
func writeFileAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

// buildBinaries builds ferrum and the backend program from root into dir
// and returns their paths. The go command's output goes to the error.
func buildBinaries(ctx context.Context, root, dir string) (ferrumBin, backendBin string, err error) {
	var out bytes.Buffer
	if err := proc.Build(ctx, root, dir, nil, &out, proc.Ferrum, proc.Backend); err != nil {
		return "", "", fmt.Errorf("%w\n%s", err, out.Bytes())
	}
	return filepath.Join(dir, proc.Ferrum.Name), filepath.Join(dir, proc.Backend.Name), nil
}
