package proxy

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"ferrum/actors"
	"ferrum/proxyconf"
	"ferrum/supervisor"
)

// testServer is a whole ferrum Server on a config file, composed the way
// main composes it, serving on a loopback port until the test ends.
type testServer struct {
	*Server
	addr string
	sup  *supervisor.Supervisor
}

// startServer writes conf to a file and serves it.
func startServer(t *testing.T, conf string) (*testServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferrum.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := proxyconf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, sup, addr := serveConfig(t, cfg)
	return &testServer{Server: s, addr: addr, sup: sup}, path
}

// serveConfig composes a Server for cfg the way main does (supervisor,
// actor tree, janitor) and serves it on a loopback port until the test
// ends.
func serveConfig(t *testing.T, cfg *proxyconf.Config) (*Server, *supervisor.Supervisor, string) {
	t.Helper()
	sup := supervisor.New(quiet, supervisor.DefaultPolicy)
	tree, err := actors.StartTree(context.Background(), sup, quiet, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Options{Log: quiet, Version: "test", Metrics: NewMetrics("test", nil), Config: cfg, Tree: tree})
	sup.Start(s.Janitor())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
		sup.Shutdown()
	})
	return s, sup, ln.Addr().String()
}

// Addr is the client-facing listener's address.
func (s *testServer) Addr() string { return s.addr }

// Reload re-reads the config file and applies it, as SIGHUP does.
func (s *testServer) Reload() {
	cfg, err := proxyconf.Load(s.Config().File)
	if err == nil {
		err = s.Apply(cfg)
	}
	if err != nil {
		s.ReloadFailed(err)
	}
}
