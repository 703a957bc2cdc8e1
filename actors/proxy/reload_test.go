package proxy

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
	"ferrum/proxyconf"
)

// TestReloadsLeakNoGoroutines reloads 50 times between two configs that add
// and remove routes and backends, and checks the goroutine count comes back.
func TestReloadsLeakNoGoroutines(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	b := backend(t, fakebackend.Options{Name: "b"})
	c := backend(t, fakebackend.Options{Name: "c"})
	head := "[server]\nlisten = \"127.0.0.1:0\"\n[health]\ninterval = \"1h\"\n"
	confs := []string{
		head + routeConf("/api", a, b) + routeConf("/x", c),
		head + routeConf("/api", b, c) + "balancing = \"first_healthy\"\n" + routeConf("/y", a, c),
	}
	path := filepath.Join(t.TempDir(), "ferrum.toml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(confs[0])
	cfg, err := proxyconf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(cfg, Options{Log: log, Version: "test", Metrics: NewMetrics("test", nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	settle := func() int {
		// Kept-alive connections are bounded caches, each with reader
		// goroutines; close them on every look, so the count is about
		// actors. Take the lowest count over a short window.
		low := -1
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			s.Tree().CloseIdleProbes()
			s.pools.CloseIdle()
			if n := runtime.NumGoroutine(); low < 0 || n < low {
				low = n
			}
		}
		return low
	}
	// Reload once to reach the two-config steady state, then measure.
	write(confs[1])
	s.Reload()
	write(confs[0])
	s.Reload()
	before := settle()
	for i := 0; i < 50; i++ {
		write(confs[(i+1)%2])
		s.Reload()
		if s.Proxy().Table().cfg.File != path {
			t.Fatal("reload lost the config file")
		}
	}
	after := settle()
	if after > before+2 {
		t.Fatalf("goroutines: %d before 50 reloads, %d after", before, after)
	}
	t.Logf("goroutines: %d before 50 reloads, %d after", before, after)
	if got := len(s.Tree().Routes); got != 2 {
		t.Fatalf("routes after reloads = %d, want 2", got)
	}
}
