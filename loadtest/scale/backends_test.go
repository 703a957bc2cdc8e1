package main

import (
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestBackendsCountProbes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	bs, err := startBackends(2)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(time.Second)
	for _, tc := range []struct {
		method, path string
		backend      int
		want         int
	}{
		{http.MethodGet, "/health", 0, 200},
		{http.MethodGet, "/health", 0, 200},
		{http.MethodGet, "/health", 1, 200},
		// Neither of these is a probe.
		{http.MethodGet, "/r1/health", 1, 200},
		{http.MethodHead, "/health", 1, 200},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, "http://"+bs.list[tc.backend].addr+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	got := bs.probes()
	if len(got) != 2 || got[0].count != 2 || got[1].count != 1 || got[0].last.IsZero() {
		t.Errorf("probes = %+v, want counts 2 and 1, with times", got)
	}
	if len(bs.addrs()) != 2 || bs.addrs()[0] == bs.addrs()[1] {
		t.Errorf("addrs = %v, want two different ones", bs.addrs())
	}
	if n := bs.errors.count.Load(); n != 0 {
		t.Errorf("the backends logged %d errors: %s", n, bs.errors.firstLine())
	}
	if err := bs.close(); err != nil {
		t.Error(err)
	}
}

func TestServeErrors(t *testing.T) {
	var s serveErrors
	if s.firstLine() != "" {
		t.Errorf("firstLine of nothing = %q", s.firstLine())
	}
	s.Write([]byte("http: Accept error: too many open files\n"))
	s.Write([]byte("http: another\n"))
	if n, first := s.count.Load(), s.firstLine(); n != 2 || first != "http: Accept error: too many open files" {
		t.Errorf("count, first = %d, %q", n, first)
	}
}

func TestProbeRate(t *testing.T) {
	const ivl = 5 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	end := at(3 * ivl)
	for _, tc := range []struct {
		name          string
		before, after probeReading
		want          float64
	}{
		{
			name:   "one prober, three probes in the window",
			before: probeReading{10, at(-time.Second)}, after: probeReading{13, at(3*ivl - time.Second)},
			want: 1,
		},
		{
			// Probes every 5.01 s, the one before the window just before
			// it: only two land in the window, the rate is still ~1.
			name:   "one prober, two probes in the window",
			before: probeReading{10, at(-time.Millisecond)}, after: probeReading{12, at(2*(ivl+10*time.Millisecond) - time.Millisecond)},
			want: float64(ivl) / float64(ivl+10*time.Millisecond),
		},
		{
			// The probe due at the window's start came 1 ms late, so the
			// one before it is just over an interval old: still a steady 1.
			name:   "one prober, a late probe at the start",
			before: probeReading{10, at(-time.Millisecond - ivl)}, after: probeReading{13, at(2*ivl + time.Millisecond)},
			want: float64(3*ivl) / float64(3*ivl+2*time.Millisecond),
		},
		{
			// The last probe in the window is just over an interval before
			// its end, because the next one is late.
			name:   "one prober, a late probe at the end",
			before: probeReading{10, at(-time.Millisecond)}, after: probeReading{12, at(2*ivl - time.Millisecond)},
			want: 1,
		},
		{
			name:   "a thousand probers",
			before: probeReading{5000, at(-time.Millisecond)}, after: probeReading{8000, at(3*ivl - time.Millisecond)},
			want: 1000,
		},
		{
			name:   "first probe inside the window",
			before: probeReading{}, after: probeReading{3, at(3*ivl - time.Second)},
			want: 3 * float64(ivl) / float64(3*ivl-time.Second),
		},
		{
			name:   "probing stopped early in the window",
			before: probeReading{10, at(-time.Second)}, after: probeReading{11, at(4 * time.Second)},
			want: float64(ivl) / float64(3*ivl+time.Second),
		},
		{
			name:   "probing resumed after a long stall",
			before: probeReading{10, at(-time.Minute)}, after: probeReading{11, at(3*ivl - time.Second)},
			want: float64(ivl) / float64(3*ivl-time.Second),
		},
		{name: "no probes", before: probeReading{10, at(-time.Second)}, after: probeReading{10, at(-time.Second)}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := probeRate(tc.before, tc.after, t0, end, ivl)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("probeRate = %v, want %v", got, tc.want)
			}
		})
	}
	rates := probeRates([]probeReading{{0, at(-time.Second)}, {0, at(-time.Second)}},
		[]probeReading{{3, at(3*ivl - time.Second)}, {6, at(3*ivl - time.Second)}}, t0, end, ivl)
	if !slices.Equal(rates, []float64{1, 2}) {
		t.Errorf("probeRates = %v, want [1 2]", rates)
	}
	if got := mean([]float64{1, 2, 6}); got != 3 {
		t.Errorf("mean = %v, want 3", got)
	}
}
