package proxy

import (
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ferrum/loadtest/fakebackend"
)

// scrape fetches /metrics once no client request is in flight, so that
// every finished request is counted: a client can read its whole response
// before the handler that wrote it has done its accounting. One scrape that
// shows no request in flight is not enough, as the registry reads its
// collectors concurrently, not at one instant; the scrape after it is.
func (h *harness) scrape(hdr ...string) map[string]*dto.MetricFamily {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := value(h.scrapeNow(hdr...), "ferrum_proxy_inflight_requests")
		if n == 0 {
			return h.scrapeNow(hdr...)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("/metrics: %v client requests still in flight after 5s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrapeNow fetches /metrics and parses it with the Prometheus text parser.
func (h *harness) scrapeNow(hdr ...string) map[string]*dto.MetricFamily {
	h.t.Helper()
	resp, body := h.get("/metrics", hdr...)
	if resp.StatusCode != 200 {
		h.t.Fatalf("/metrics = %d %q", resp.StatusCode, body)
	}
	return parseMetrics(h.t, body)
}

func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// TestReloadForgetsRemovedSeries: after a reload, no series is left for a
// removed route or for a backend removed from a kept route.
func TestReloadForgetsRemovedSeries(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	b := backend(t, fakebackend.Options{Name: "b"})
	c := backend(t, fakebackend.Options{Name: "c"})
	head := "[server]\nlisten = \"127.0.0.1:0\"\n[health]\ninterval = \"1h\"\n"
	s, path := startServer(t, head+routeConf("/a", a, b)+routeConf("/c", c))
	base := "http://" + s.Addr()
	for _, p := range []string{"/a/1", "/a/2", "/c/1"} {
		req, _ := http.NewRequest(http.MethodGet, base+p, nil)
		do(t, req)
	}
	scrape := func() map[string]*dto.MetricFamily {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		_, body := do(t, req)
		return parseMetrics(t, body)
	}
	mfs := scrape()
	if value(mfs, "ferrum_proxy_requests_total", "route=/c") != 1 || value(mfs, "ferrum_proxy_backend_requests_total", "backend="+b) != 1 {
		t.Fatal("traffic before the reload was not counted")
	}
	if err := os.WriteFile(path, []byte(head+routeConf("/a", a)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	mfs = scrape()
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "route" && l.GetValue() == "/c") || (l.GetName() == "backend" && l.GetValue() != a) {
					t.Errorf("%s still has a series labelled %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if v := value(mfs, "ferrum_proxy_backend_requests_total", "route=/a", "backend="+a); v != 1 {
		t.Errorf("kept backend's series = %v, want its count kept (1)", v)
	}
}

// value returns the sample of family name whose labels include want
// ("k=v" pairs), summing when several match; histograms give their count.
func value(mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	total := 0.0
next:
	for _, m := range mf.Metric {
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func TestMetricsCountTraffic(t *testing.T) {
	bad := backend(t, fakebackend.Options{Name: "bad", Status: 503})
	good := backend(t, fakebackend.Options{Name: "good"})
	sick := backend(t, fakebackend.Options{Name: "sick", HealthStatus: 500})
	slow := backend(t, fakebackend.Options{Name: "slow", Delay: 2 * time.Second})
	conf := "[health]\ninterval = \"50ms\"\nfailure_threshold = 1\n[retry]\nbackoff = \"1ms\"\n" +
		routeConf("/retry", bad, good) + "balancing = \"first_healthy\"\n[route.health]\nmax_ejected_percent = 0\npassive_failure_status = [599, 599]\n" +
		routeConf("/sick", sick) +
		routeConf("/slow", slow) + "[route.upstream]\nread_timeout = \"100ms\"\n[route.retry]\nmax_attempts = 1\n"
	h := startProxy(t, conf)
	eventually(t, 5*time.Second, "sick backend never left rotation", func() bool {
		return !h.inRotation(1, 0)
	})
	for range 10 {
		if resp, _ := h.get("/retry/x"); resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "good" {
			t.Fatalf("retry route: %d from %q, want 200 from good", resp.StatusCode, resp.Header.Get("X-Backend"))
		}
	}
	h.get("/nothing")
	if resp, _ := h.get("/sick/x"); resp.StatusCode != 503 {
		t.Fatalf("sick route: %d, want 503", resp.StatusCode)
	}
	if resp, _ := h.get("/slow/x"); resp.StatusCode != 504 {
		t.Fatalf("slow route: %d, want 504", resp.StatusCode)
	}

	mfs := h.scrape()
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ferrum_proxy_requests_total", []string{"route=/retry", "method=GET", "code=200"}, 10},
		{"ferrum_proxy_request_duration_seconds", []string{"route=/retry"}, 10},
		{"ferrum_proxy_retries_total", []string{"route=/retry", "reason=status"}, 10},
		{"ferrum_proxy_backend_requests_total", []string{"route=/retry"}, 20},
		{"ferrum_proxy_backend_requests_total", []string{"route=/retry", "backend=" + bad, "outcome=success"}, 10},
		{"ferrum_proxy_upstream_duration_seconds", []string{"route=/retry"}, 20},
		{"ferrum_proxy_requests_total", []string{"route=none", "code=404"}, 1},
		{"ferrum_proxy_errors_total", []string{"route=none", "kind=no_route"}, 1},
		{"ferrum_proxy_requests_total", []string{"route=/sick", "code=503"}, 1},
		{"ferrum_proxy_errors_total", []string{"route=/sick", "kind=no_healthy_backend"}, 1},
		{"ferrum_proxy_requests_total", []string{"route=/slow", "code=504"}, 1},
		{"ferrum_proxy_errors_total", []string{"route=/slow", "kind=upstream_timeout"}, 1},
		{"ferrum_proxy_backend_requests_total", []string{"route=/slow", "outcome=failure"}, 1},
		{"ferrum_proxy_backend_failures_total", []string{"route=/slow", "source=passive"}, 1},
		{"ferrum_proxy_backend_healthy", []string{"route=/sick"}, 0},
		{"ferrum_proxy_backend_healthy", []string{"route=/retry"}, 2},
		{"ferrum_proxy_health_transitions_total", []string{"route=/sick", "to=unhealthy"}, 1},
		{"ferrum_proxy_inflight_requests", nil, 0},
		{"ferrum_proxy_build_info", []string{"version=test"}, 1},
	}
	for _, c := range checks {
		if got := value(mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := value(mfs, "ferrum_proxy_backend_failures_total", "route=/sick", "source=active"); v < 1 {
		t.Errorf("active failures of the sick backend = %v, want >= 1", v)
	}
	types := map[string]dto.MetricType{
		"ferrum_proxy_requests_total": dto.MetricType_COUNTER, "ferrum_proxy_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"ferrum_proxy_upstream_duration_seconds": dto.MetricType_HISTOGRAM, "ferrum_proxy_backend_requests_total": dto.MetricType_COUNTER,
		"ferrum_proxy_backend_failures_total": dto.MetricType_COUNTER, "ferrum_proxy_backend_healthy": dto.MetricType_GAUGE,
		"ferrum_proxy_backend_ejections_total": dto.MetricType_COUNTER, "ferrum_proxy_health_transitions_total": dto.MetricType_COUNTER,
		"ferrum_proxy_retries_total": dto.MetricType_COUNTER, "ferrum_proxy_retries_skipped_total": dto.MetricType_COUNTER,
		"ferrum_proxy_tunnels_active": dto.MetricType_GAUGE, "ferrum_proxy_errors_total": dto.MetricType_COUNTER,
		"ferrum_proxy_inflight_requests": dto.MetricType_GAUGE, "ferrum_proxy_config_reloads_total": dto.MetricType_COUNTER,
		"ferrum_proxy_build_info": dto.MetricType_GAUGE, "go_goroutines": dto.MetricType_GAUGE,
		"process_cpu_seconds_total": dto.MetricType_COUNTER,
	}
	for name, typ := range types {
		mf := mfs[name]
		if mf == nil {
			t.Errorf("series %s missing", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s has type %v, want %v", name, mf.GetType(), typ)
		}
	}
	// Every sample carries exactly the contract's label names.
	labels := map[string]string{
		"ferrum_proxy_requests_total":            "code method route",
		"ferrum_proxy_request_duration_seconds":  "route",
		"ferrum_proxy_upstream_duration_seconds": "backend route",
		"ferrum_proxy_backend_requests_total":    "backend outcome route",
		"ferrum_proxy_backend_failures_total":    "backend route source",
		"ferrum_proxy_backend_healthy":           "backend route",
		"ferrum_proxy_backend_ejections_total":   "backend route",
		"ferrum_proxy_health_transitions_total":  "backend route to",
		"ferrum_proxy_retries_total":             "reason route",
		"ferrum_proxy_retries_skipped_total":     "route",
		"ferrum_proxy_tunnels_active":            "route",
		"ferrum_proxy_errors_total":              "kind route",
		"ferrum_proxy_inflight_requests":         "",
		"ferrum_proxy_config_reloads_total":      "result",
		"ferrum_proxy_build_info":                "goversion version",
	}
	for name, want := range labels {
		for _, m := range mfs[name].GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			if strings.Join(got, " ") != want {
				t.Errorf("%s sample has labels %v, want exactly %q", name, got, want)
				break
			}
		}
	}
	var finite []float64
	for _, b := range mfs["ferrum_proxy_request_duration_seconds"].Metric[0].Histogram.Bucket {
		if !math.IsInf(b.GetUpperBound(), 1) {
			finite = append(finite, b.GetUpperBound())
		}
	}
	if finite[0] != 0.0001 || finite[len(finite)-1] != 30 {
		t.Errorf("histogram buckets run %v..%v, want 100µs..30s", finite[0], finite[len(finite)-1])
	}
}

func TestMetricsOpenMetricsNegotiation(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	resp, body := h.get("/metrics", "Accept", "application/openmetrics-text;version=1.0.0")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") {
		t.Fatalf("OpenMetrics scrape: content type %q, body ends %q", resp.Header.Get("Content-Type"), body[max(0, len(body)-20):])
	}
	resp, _ = h.get("/metrics")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("plain scrape: content type %q", resp.Header.Get("Content-Type"))
	}
}

func TestDebugEndpointProtection(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	cases := []struct {
		name     string
		conf     string
		env      string
		auth     string
		path     string
		want     int
		wantAuth bool
	}{
		{"open by default", "", "", "", "/metrics", 200, false},
		{"missing token", "auth_token = \"s3cret\"\n", "", "", "/health/backends", 401, true},
		{"wrong token", "auth_token = \"s3cret\"\n", "", "Bearer nope", "/metrics", 401, true},
		{"right token", "auth_token = \"s3cret\"\n", "", "Bearer s3cret", "/metrics", 200, false},
		{"env overrides the file", "auth_token = \"s3cret\"\n", "fromenv", "Bearer fromenv", "/health/backends", 200, false},
		{"env token replaces the file's", "auth_token = \"s3cret\"\n", "fromenv", "Bearer s3cret", "/health/backends", 401, true},
		{"hidden backends", "expose_backend_health = false\n", "", "", "/health/backends", 404, false},
		{"hidden metrics", "expose_metrics = false\n", "", "", "/metrics", 404, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := func(string) string { return c.env }
			h := startProxyEnv(t, "[debug]\n"+c.conf+routeConf("/", a), env)
			resp, _ := h.get(c.path, "Authorization", c.auth)
			if resp.StatusCode != c.want {
				t.Fatalf("GET %s = %d, want %d", c.path, resp.StatusCode, c.want)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (got != "") != c.wantAuth || (c.wantAuth && got != "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
			if resp.Header.Get("X-Backend") != "" {
				t.Fatalf("a debug path reached the backend")
			}
		})
	}
}

func TestDebugListenerSeparate(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a"})
	h := startProxy(t, "[debug]\nlisten = \"127.0.0.1:0\"\n"+routeConf("/", a))
	// On the main listener the debug paths belong to the routes now.
	resp, _ := h.get("/metrics")
	if resp.Header.Get("X-Backend") != "a" {
		t.Fatalf("/metrics on server.listen did not reach the route with debug.listen set")
	}
	if resp, _ := h.get("/health"); resp.Header.Get("X-Backend") != "" || resp.StatusCode != 200 {
		t.Fatalf("/health must stay the proxy's own on server.listen")
	}
	dbg := handlerBackend(t, h.p.DebugHandler().ServeHTTP)
	for _, path := range []string{"/metrics", "/health/backends"} {
		r, err := http.Get(dbg + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("debug listener %s = %d", path, r.StatusCode)
		}
	}
}

// TestOpenMetricsParsesStrictly: the OpenMetrics exposition has one HELP
// and one TYPE per family and no two families with one name once counters
// lose their _total (go_memstats_alloc_bytes and its _total counter were
// two), ends with # EOF; the text exposition parses with Prometheus's own
// parser.
func TestOpenMetricsParsesStrictly(t *testing.T) {
	h := startProxy(t, routeConf("/", backend(t, fakebackend.Options{Name: "a"})))
	h.get("/x")
	_, body := h.get("/metrics", "Accept", "application/openmetrics-text;version=1.0.0")
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Fatal("OpenMetrics exposition does not end with # EOF")
	}
	help, typ := map[string]int{}, map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "# EOF\n"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "#" && f[1] == "HELP":
			help[f[2]]++
			if help[f[2]] > 1 {
				t.Errorf("family %s has %d HELP lines", f[2], help[f[2]])
			}
		case len(f) >= 4 && f[0] == "#" && f[1] == "TYPE":
			if _, dup := typ[f[2]]; dup {
				t.Errorf("family %s is declared twice", f[2])
			}
			typ[f[2]] = f[3]
		case len(f) >= 3 && f[0] == "#" && f[1] == "UNIT":
		case len(f) >= 1 && f[0] == "#" && line != "":
			t.Errorf("unexpected comment line %q", line)
		}
	}
	for name, kind := range typ {
		if kind == "counter" && strings.HasSuffix(name, "_total") {
			t.Errorf("counter family %s keeps _total in OpenMetrics", name)
		}
	}
	if len(typ) < 15 {
		t.Fatalf("only %d families: %v", len(typ), typ)
	}
	_, text := h.get("/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(text)); err != nil {
		t.Fatalf("text exposition does not parse: %v", err)
	}
}
