package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"ferrum/loadtest/fakebackend"
)

// backendStopGrace bounds how long the backends wait for in-flight requests
// once ferrum, their only client, has stopped.
const backendStopGrace = 2 * time.Second

// backendSpec is one demo backend.
type backendSpec struct {
	name string
	addr string // host:port to listen on
}

// backends are the running demo backends. stop is called once, by the
// goroutine that called startBackends.
type backends struct {
	servers []*http.Server
	wg      sync.WaitGroup // one per serving goroutine
}

// startBackends listens on every spec's address before serving any, so a
// port in use fails the demo before anything started. Serve errors after
// start-up are reported on stderr.
func startBackends(specs []backendSpec, stderr io.Writer) (*backends, error) {
	listeners := make([]net.Listener, 0, len(specs))
	for _, s := range specs {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, listenError(s, err)
		}
		listeners = append(listeners, ln)
	}
	bs := &backends{}
	for i, s := range specs {
		srv := fakebackend.NewServer(fakebackend.Options{Name: s.name})
		bs.servers = append(bs.servers, srv)
		bs.wg.Go(func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(stderr, "demo: backend %s: serve: %v\n", s.name, err)
			}
		})
	}
	return bs, nil
}

// stop shuts every backend down, closing what is still open after
// backendStopGrace, and returns once all serving goroutines have.
func (bs *backends) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), backendStopGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range bs.servers {
		wg.Go(func() {
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		})
	}
	wg.Wait()
	bs.wg.Wait()
}

// listenError explains a failed listen: a port in use gets the one clear
// line an operator needs, anything else the plain cause.
func listenError(s backendSpec, err error) error {
	_, port, _ := net.SplitHostPort(s.addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %s is already in use, and the demo needs %s for backend %s: "+
			"stop what listens there (`lsof -i :%s` shows it, perhaps an earlier demo) and run the demo again",
			port, s.addr, s.name, port)
	}
	return fmt.Errorf("listen %s for backend %s: %w", s.addr, s.name, err)
}

// checkFree reports an error if something already accepts connections on
// addr, the server.listen of the config file where ferrum is about to
// listen: its /health would answer in place of ferrum's and the demo would
// talk to the wrong server.
func checkFree(file, addr string) error {
	base, err := baseURL(addr)
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", base[len("http://"):], 500*time.Millisecond)
	if err != nil {
		return nil
	}
	conn.Close()
	_, port, _ := net.SplitHostPort(addr)
	return fmt.Errorf("port %s is already in use (something answers on %s), and ferrum needs it (%s: server.listen): "+
		"stop that process (`lsof -i :%s` shows it, perhaps an earlier demo), or pass -config with another server.listen",
		port, addr, file, port)
}

// baseURL is the URL to reach a server listening on addr: an unspecified
// host (":8080", "0.0.0.0:8080", "[::]:8080") is reached on loopback.
func baseURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port: %w", addr, err)
	}
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
