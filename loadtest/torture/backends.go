//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"ferrum/loadtest/fakebackend"
	"ferrum/loadtest/proc"
)

// connTracker follows the connections of one in-process backend through
// http.Server.ConnState. Safe for concurrent use.
type connTracker struct {
	mu       sync.Mutex
	open     int                  // written under mu
	closed   int                  // written under mu
	closedAt map[string]time.Time // by remote address; written under mu
}

func newConnTracker() *connTracker { return &connTracker{closedAt: map[string]time.Time{}} }

func (t *connTracker) hook(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateNew:
		t.open++
	case http.StateClosed, http.StateHijacked:
		t.open--
		t.closed++
		t.closedAt[c.RemoteAddr().String()] = time.Now()
	}
}

// counts is the connections open now and closed so far.
func (t *connTracker) counts() (open, closed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open, t.closed
}

// closedTime is when the connection from remote closed, if it has.
func (t *connTracker) closedTime(remote string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.closedAt[remote]
	return at, ok
}

// localBackend is a backend served from inside the torture command: cheap
// to start and open to inspection. The run closes it at its end.
type localBackend struct {
	name, addr, url string
	port            int
	conns           *connTracker
	srv             *http.Server
}

// localBackend serves h (nil: a fakebackend named name) on a loopback
// port. tune, if not nil, may change the server before it starts.
func (r *run) localBackend(name string, h http.Handler, tune func(*http.Server)) (*localBackend, error) {
	if h == nil {
		h = fakebackend.Handler(fakebackend.Options{Name: name})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	b := &localBackend{name: name, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, conns: newConnTracker()}
	b.url = backendURL(b.addr)
	b.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         b.conns.hook,
	}
	if tune != nil {
		tune(b.srv)
	}
	go b.srv.Serve(ln)
	r.onCleanup(func() { b.srv.Close() })
	return b, nil
}

// inflight wraps h and counts the requests it is serving.
type inflight struct {
	h  http.Handler
	mu sync.Mutex
	n  int // written under mu
}

func (f *inflight) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.n--
		f.mu.Unlock()
	}()
	f.h.ServeHTTP(w, req)
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// backendChild is the backend program running as a child process, so an
// experiment can kill -9 it.
type backendChild struct {
	*proc.Process
	name, addr string
}

// startBackendChild runs the backend program as name on listen
// ("127.0.0.1:0" for any port) and returns once it listens. Its output
// goes to a log file in the run's directory.
func (r *run) startBackendChild(name, listen string) (*backendChild, error) {
	logFile, err := os.OpenFile(filepath.Join(r.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.backendBin, "-listen", listen, "-name", name)
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	c, err := r.procs.start("backend "+name, cmd, func() { <-copied })
	if err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		defer close(copied)
		defer logFile.Close()
		proc.CopyListening(out, logFile, addrs)
	}()
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	select {
	case addr := <-addrs:
		return &backendChild{Process: c, name: name, addr: addr}, nil
	case <-c.Done():
		return nil, fmt.Errorf("backend %s on %s: %s before listening", name, listen, c.Status())
	case <-ctx.Done():
		c.KillGroup()
		return nil, fmt.Errorf("backend %s on %s: not listening after 10s: %w", name, listen, ctx.Err())
	}
}

// restartBackendChild starts name again on addr, retrying for a few
// seconds while the port is still held.
func (r *run) restartBackendChild(name, addr string) (*backendChild, error) {
	var errs []error
	for range 20 {
		b, err := r.startBackendChild(name, addr)
		if err == nil {
			return b, nil
		}
		errs = append(errs, err)
		if !sleep(r.ctx, 200*time.Millisecond) {
			break
		}
	}
	return nil, errors.Join(errs...)
}
