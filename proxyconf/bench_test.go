package proxyconf

import (
	"fmt"
	"strings"
	"testing"
)

// manyRoutes writes a file with n routes sharing four backends, the shape of
// a large deployment that SIGHUP must reload within its budget. With
// overrides, each route also has [route.health] and [route.retry] tables and
// one of its backends is weighted.
func manyRoutes(n int, overrides bool) []byte {
	var b strings.Builder
	b.WriteString("[health]\ninterval = \"5s\"\n")
	for i := range n {
		fmt.Fprintf(&b, "[[route]]\npath_prefix = \"/r%d\"\n", i)
		if overrides {
			b.WriteString(`backends = ["http://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 3 }, ` +
				`"http://127.0.0.1:3003", "http://127.0.0.1:3004"]` + "\n")
			b.WriteString("[route.health]\ninterval = \"2s\"\nfailure_threshold = 5\n")
			b.WriteString("[route.retry]\nmax_attempts = 3\nretry_on_status = [502, 503]\n")
		} else {
			b.WriteString(`backends = ["http://127.0.0.1:3001", "http://127.0.0.1:3002", ` +
				`"http://127.0.0.1:3003", "http://127.0.0.1:3004"]` + "\n")
		}
	}
	return []byte(b.String())
}

func benchmarkParse(b *testing.B, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("ferrum.toml", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10kRoutes(b *testing.B) { benchmarkParse(b, manyRoutes(10000, false)) }

func BenchmarkParse10kRoutesOverrides(b *testing.B) { benchmarkParse(b, manyRoutes(10000, true)) }

// TestManyRoutes checks that the benchmark files parse to what they say, so
// that a benchmark never measures the path of a file full of problems.
func TestManyRoutes(t *testing.T) {
	for _, overrides := range []bool{false, true} {
		cfg, err := Parse("ferrum.toml", manyRoutes(100, overrides), nil)
		if err != nil {
			t.Fatalf("Parse(manyRoutes(100, %t)) error = %v", overrides, err)
		}
		r := cfg.Routes[99]
		if r.PathPrefix != "/r99" || len(r.Backends) != 4 || r.Backends[3].URL != "http://127.0.0.1:3004" {
			t.Errorf("manyRoutes(100, %t) route[99] = %+v", overrides, r)
		}
		if overrides && (r.Backends[1].Weight != 3 || r.Health.FailureThreshold != 5 || r.Retry.MaxAttempts != 3) {
			t.Errorf("manyRoutes(100, %t) route[99] overrides not applied: %+v", overrides, r)
		}
	}
}
