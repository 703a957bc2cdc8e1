//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP ferrum_proxy_config_reloads_total Configuration reloads by result.
# TYPE ferrum_proxy_config_reloads_total counter
ferrum_proxy_config_reloads_total{result="failure"} 10
ferrum_proxy_config_reloads_total{result="success"} 90

ferrum_proxy_inflight_requests 0
ferrum_proxy_errors_total{kind="local_resources",route="/k"} 3 1700000000000
ferrum_proxy_errors_total{route="/k",kind="upstream_connect"} 2
ferrum_proxy_errors_total{kind="local_resources",route="/a \"b\", c\\d\n"} 4
ferrum_proxy_request_duration_seconds_bucket{route="/k",le="+Inf"} 7
go_gc_duration_seconds{quantile="0.5"} 1.5e-05
`
	m, err := parseMetrics(text)
	if err != nil {
		t.Fatalf("parseMetrics: %v", err)
	}
	tests := []struct {
		name string
		kv   []string
		want float64
	}{
		{"ferrum_proxy_config_reloads_total", []string{"result", "failure"}, 10},
		{"ferrum_proxy_config_reloads_total", []string{"result", "success"}, 90},
		{"ferrum_proxy_config_reloads_total", nil, 100},
		{"ferrum_proxy_inflight_requests", nil, 0},
		{"ferrum_proxy_errors_total", []string{"kind", "local_resources"}, 7},
		{"ferrum_proxy_errors_total", []string{"kind", "local_resources", "route", "/a \"b\", c\\d\n"}, 4},
		{"ferrum_proxy_errors_total", []string{"route", "/k"}, 5},
		{"ferrum_proxy_errors_total", []string{"kind", "bad_request"}, 0},
		{"ferrum_proxy_request_duration_seconds_bucket", []string{"le", "+Inf"}, 7},
		{"go_gc_duration_seconds", nil, 1.5e-05},
		{"no_such_metric", nil, 0},
	}
	for _, tt := range tests {
		if got := m.sum(tt.name, tt.kv...); got != tt.want {
			t.Errorf("sum(%s, %q) = %v, want %v", tt.name, tt.kv, got, tt.want)
		}
	}
}

func TestParseMetricsRejects(t *testing.T) {
	for _, bad := range []string{
		"metric_without_value",
		`m{a="1"}`,
		`m{a="1"} notanumber`,
		`m{a="unclosed} 1`,
		`m{a=1} 1`,
		`m 1 2 3`,
	} {
		t.Run(bad, func(t *testing.T) {
			if _, err := parseMetrics("ok 1\n" + bad + "\n"); err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("parseMetrics(%q) = %v, want an error naming line 2", bad, err)
			}
		})
	}
}

func TestParseHealth(t *testing.T) {
	body := `{"routes": [{"path_prefix": "/api", "balancing": "round_robin",
	  "backends": [{"url": "http://127.0.0.1:3001", "healthy": true, "state": "healthy", "inflight": 0},
	               {"url": "http://127.0.0.1:3002", "healthy": false, "state": "ejected"}]},
	  {"path_prefix": "/b", "backends": [{"url": "http://127.0.0.1:3003", "healthy": false, "state": "unhealthy"}]}]}`
	h, err := parseHealth(body)
	if err != nil {
		t.Fatalf("parseHealth: %v", err)
	}
	if b, ok := h.backend("http://127.0.0.1:3002"); !ok || b.State != "ejected" || b.Healthy {
		t.Errorf("backend(3002) = %+v, %v; want ejected, not healthy", b, ok)
	}
	if _, ok := h.backend("http://127.0.0.1:9"); ok {
		t.Errorf("backend(9) found, want none")
	}
	got := strings.Join(h.unhealthy(), ",")
	if want := "http://127.0.0.1:3002 ejected,http://127.0.0.1:3003 unhealthy"; got != want {
		t.Errorf("unhealthy() = %q, want %q", got, want)
	}
	if _, err := parseHealth("not json"); err == nil {
		t.Errorf("parseHealth(not json) = nil error, want one")
	}
}
