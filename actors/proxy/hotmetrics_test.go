package proxy

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestHistogramMatchesPrometheus feeds the same values to ferrum's
// histogram and to a Prometheus one with the same buckets, and wants the
// same samples: bounds are inclusive ("le"), values past the last bound
// count only in +Inf, and the sum is the values' sum.
func TestHistogramMatchesPrometheus(t *testing.T) {
	cases := []struct {
		name   string
		values []float64
	}{
		{"none", nil},
		{"on the bounds", durationBuckets[:]},
		{"just above the bounds", func() (v []float64) {
			for _, b := range durationBuckets {
				v = append(v, math.Nextafter(b, math.Inf(1)))
			}
			return v
		}()},
		{"zero and tiny", []float64{0, 1e-9, 0.00005}},
		{"past the last bound", []float64{31, 3600, math.MaxFloat64 / 4}},
		{"typical", []float64{0.0003, 0.0021, 0.0021, 0.04, 0.7, 12}},
	}
	desc := prometheus.NewDesc("h", "h", nil, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ours histogram
			theirs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: durationBuckets[:]})
			for _, v := range c.values {
				ours.observe(v)
				theirs.Observe(v)
			}
			var got, want dto.Metric
			if err := ours.metric(desc).Write(&got); err != nil {
				t.Fatal(err)
			}
			if err := theirs.Write(&want); err != nil {
				t.Fatal(err)
			}
			g, w := got.GetHistogram(), want.GetHistogram()
			if g.GetSampleCount() != w.GetSampleCount() || g.GetSampleSum() != w.GetSampleSum() {
				t.Fatalf("count, sum = %d, %v; Prometheus %d, %v", g.GetSampleCount(), g.GetSampleSum(), w.GetSampleCount(), w.GetSampleSum())
			}
			if len(g.Bucket) != len(w.Bucket) {
				t.Fatalf("%d buckets, Prometheus %d", len(g.Bucket), len(w.Bucket))
			}
			for i := range g.Bucket {
				if g.Bucket[i].GetUpperBound() != w.Bucket[i].GetUpperBound() || g.Bucket[i].GetCumulativeCount() != w.Bucket[i].GetCumulativeCount() {
					t.Errorf("bucket le=%v: %d; Prometheus le=%v: %d", g.Bucket[i].GetUpperBound(), g.Bucket[i].GetCumulativeCount(),
						w.Bucket[i].GetUpperBound(), w.Bucket[i].GetCumulativeCount())
				}
			}
		})
	}
}

// TestHotStoreKeepsAndForgets: a route or pair the config keeps has the
// same counters after a reload; one that left has them dropped, and comes
// back from zero; the no-route counters are never dropped.
func TestHotStoreKeepsAndForgets(t *testing.T) {
	m := NewMetrics("test", nil)
	a := m.forRoute("/a")
	ab := m.forBackend(a, "http://b")
	ac := m.forBackend(a, "http://c")
	a.request(0, 200, 0.001, "")
	ab.attempt(0, 0.001)
	if m.forRoute("/a") != a || m.forBackend(a, "http://b") != ab {
		t.Fatal("asking again for a route or pair gave new counters")
	}
	m.hot.forget(map[string]map[string]bool{"/a": {"http://b": true}})
	if m.forRoute("/a") != a || m.forBackend(a, "http://b") != ab {
		t.Fatal("a kept route or pair lost its counters")
	}
	if m.forBackend(a, "http://c") == ac {
		t.Fatal("a pair that left kept its counters")
	}
	m.hot.forget(map[string]map[string]bool{})
	if m.forRoute("/a") == a {
		t.Fatal("a route that left kept its counters")
	}
	if m.forRoute(routeNone) != m.none {
		t.Fatal("the no-route counters were dropped")
	}
}
