package proxy

import (
	"strings"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
	"ferrum/messages"
)

// healthSlack absorbs scheduling delay (the race detector on a small machine)
// on top of the contract's bounds.
const healthSlack = 300 * time.Millisecond

// TestKilledBackendLeavesAndRejoinsRotation kills one of two backends with no
// traffic flowing, so only the active probes can notice: it must leave
// rotation within interval × failure_threshold plus one interval, after
// which no request fails (retries are off, so rotation alone must do it);
// started again on the same port, it must rejoin only after
// recovery_threshold passing probes, and take traffic again.
func TestKilledBackendLeavesAndRejoinsRotation(t *testing.T) {
	noLeaks(t)
	const (
		interval = 100 * time.Millisecond
		failures = 3
		recovery = 2
	)
	a := startKillable(t, fakebackend.Options{Name: "a"})
	b := startKillable(t, fakebackend.Options{Name: "b"})
	conf := "[health]\ninterval = \"100ms\"\ntimeout = \"1s\"\nfailure_threshold = 3\nrecovery_threshold = 2\n" +
		"[retry]\nmax_attempts = 1\n" + routeConf("/", a.url(), b.url())
	h := startProxy(t, conf)
	h.waitFirstProbes()
	bActor := h.tree.Routes()[0].Backend(1)

	seen := map[string]int{}
	for range 4 {
		resp, _ := h.get("/before")
		if resp.StatusCode != 200 {
			t.Fatalf("GET before the kill = %d, want 200", resp.StatusCode)
		}
		seen[resp.Header.Get("X-Backend")]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("round robin before the kill reached %v, want both", seen)
	}

	killedAt := time.Now()
	b.kill()
	leaveBound := interval*failures + interval
	eventually(t, leaveBound+healthSlack, "killed backend still in rotation", func() bool {
		return !h.inRotation(0, 1)
	})
	left := time.Since(killedAt)
	t.Logf("killed backend left rotation after %v (contract bound %v)", left.Round(time.Millisecond), leaveBound)
	s := bActor.Snapshot()
	if s.State != messages.Unhealthy || s.LastChange == nil || s.LastChange.Reason != messages.ReasonActiveFailure {
		t.Errorf("killed backend: state %v, last change %+v; want unhealthy by active_failure", s.State, s.LastChange)
	}

	for i := range 50 {
		resp, body := h.get("/after-kill")
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "a" {
			t.Fatalf("request %d after the killed backend left rotation: %d %q from %q, want 200 from a",
				i, resp.StatusCode, body, resp.Header.Get("X-Backend"))
		}
	}

	restartedAt := time.Now()
	b.restart()
	rejoinBound := interval*recovery + interval
	eventually(t, rejoinBound+healthSlack, "restarted backend never rejoined", func() bool {
		return h.inRotation(0, 1)
	})
	rejoined := time.Since(restartedAt)
	t.Logf("restarted backend rejoined after %v (contract bound %v)", rejoined.Round(time.Millisecond), rejoinBound)
	s = bActor.Snapshot()
	if s.ConsecOKs < recovery {
		t.Errorf("rejoined after %d consecutive passing probes, want at least recovery_threshold = %d", s.ConsecOKs, recovery)
	}
	// recovery_threshold probes are an interval apart, so a rejoin sooner
	// than (recovery_threshold-1) intervals came from fewer probes.
	if min := interval*(recovery-1) - 20*time.Millisecond; rejoined < min {
		t.Errorf("rejoined %v after the restart, before %d probes could pass (%v)", rejoined, recovery, min)
	}
	if s.LastChange == nil || s.LastChange.From != messages.Unhealthy || s.LastChange.Reason != messages.ReasonActiveRecovery {
		t.Errorf("rejoin transition = %+v, want unhealthy → healthy by active_recovery", s.LastChange)
	}

	seen = map[string]int{}
	for i := range 20 {
		resp, _ := h.get("/after-restart")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d after the rejoin = %d, want 200", i, resp.StatusCode)
		}
		seen[resp.Header.Get("X-Backend")]++
	}
	if seen["b"] == 0 || seen["a"] == 0 {
		t.Fatalf("after the rejoin traffic reached %v, want both backends", seen)
	}
}

// TestPassiveEjectionVisibleInHealthBackends: a backend whose probes pass but
// which answers 500 to traffic is ejected after failure_threshold failures,
// and /health/backends says so and why; probes passing during the ejection
// do not bring it back, and no traffic reaches it.
func TestPassiveEjectionVisibleInHealthBackends(t *testing.T) {
	noLeaks(t)
	good1 := backend(t, fakebackend.Options{Name: "good1"})
	bad := backend(t, fakebackend.Options{Name: "bad", Status: 500, HealthStatus: 200})
	good2 := backend(t, fakebackend.Options{Name: "good2"})
	conf := "[health]\ninterval = \"100ms\"\nfailure_threshold = 3\nejection_duration = \"1m\"\n" +
		"[retry]\nmax_attempts = 1\n" + routeConf("/", good1, bad, good2)
	h := startProxy(t, conf)
	h.waitFirstProbes()
	badActor := h.tree.Routes()[0].Backend(1)

	fives := 0
	for i := 0; i < 30 && badActor.Snapshot().InRotation(); i++ {
		resp, _ := h.get("/x")
		switch {
		case resp.StatusCode == 500 && resp.Header.Get("X-Backend") == "bad":
			fives++
		case resp.StatusCode != 200:
			t.Fatalf("GET = %d from %q", resp.StatusCode, resp.Header.Get("X-Backend"))
		}
	}
	eventually(t, 2*time.Second, "backend answering 500 never ejected", func() bool {
		return badActor.Snapshot().State == messages.Ejected
	})
	if fives < 3 {
		t.Errorf("ejected after %d 500s, want failure_threshold = 3 first", fives)
	}
	ejectedAt := time.Now()

	e := h.backendEntries("/")
	be := e[bad]
	if be.State != "ejected" || be.Healthy {
		t.Errorf("bad backend: state %q healthy %v, want ejected and not healthy", be.State, be.Healthy)
	}
	if be.Ejections != 1 {
		t.Errorf("bad backend: ejections %d, want 1", be.Ejections)
	}
	if be.EjectedUntil == nil {
		t.Errorf("bad backend: ejected_until null while ejected")
	} else if until, err := time.Parse(time.RFC3339Nano, *be.EjectedUntil); err != nil {
		t.Errorf("ejected_until %q: %v", *be.EjectedUntil, err)
	} else if d := until.Sub(ejectedAt); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("ejected_until is %v from now, want about ejection_duration = 1m", d)
	}
	if lt := be.LastTransition; lt == nil || lt.Reason != "passive_failure" || lt.From != "healthy" || lt.To != "ejected" {
		t.Errorf("bad backend: last_transition %+v, want healthy → ejected by passive_failure", lt)
	}
	for _, u := range []string{good1, good2} {
		if e[u].State != "healthy" || !e[u].Healthy {
			t.Errorf("%s: state %q healthy %v, want healthy", u, e[u].State, e[u].Healthy)
		}
	}
	_, text := h.get("/health/backends", "Accept", "text/plain")
	if !strings.Contains(text, bad+" unhealthy\n") {
		t.Errorf("text form %q, want %q", text, bad+" unhealthy")
	}

	for i := range 30 {
		resp, _ := h.get("/y")
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") == "bad" {
			t.Fatalf("request %d after the ejection: %d from %q, want 200 from a good backend",
				i, resp.StatusCode, resp.Header.Get("X-Backend"))
		}
	}
	probes := badActor.Snapshot().ProbesDone
	eventually(t, 2*time.Second, "probes stopped during the ejection", func() bool {
		return badActor.Snapshot().ProbesDone >= probes+3
	})
	if s := badActor.Snapshot(); s.State != messages.Ejected {
		t.Errorf("after 3 passing probes during a 1m ejection: state %v, want still ejected", s.State)
	}

	mfs := h.scrape()
	if v := value(mfs, "ferrum_proxy_backend_ejections_total", "backend="+bad); v != 1 {
		t.Errorf("ferrum_proxy_backend_ejections_total{backend=bad} = %v, want 1", v)
	}
	if v := value(mfs, "ferrum_proxy_health_transitions_total", "backend="+bad, "to=ejected"); v != 1 {
		t.Errorf("ferrum_proxy_health_transitions_total{backend=bad,to=ejected} = %v, want 1", v)
	}
}
