package proxy

import (
	"os"
	"runtime"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
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
	s, path := startServer(t, confs[0])
	write := func(c string) {
		if err := os.WriteFile(path, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
	if got := len(s.Tree().Routes()); got != 2 {
		t.Fatalf("routes after reloads = %d, want 2", got)
	}
}
