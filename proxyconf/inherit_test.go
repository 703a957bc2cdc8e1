package proxyconf

import (
	"reflect"
	"testing"
	"time"
)

// sectionKey is one key of [health], [retry] or [upstream] set to a value
// other than its default; pick reads the matching field.
type sectionKey struct {
	section, key, value string
	want                any
	pick                func(Health, Retry, Upstream) any
}

var sectionKeys = []sectionKey{
	{"upstream", "connect_timeout", `"1s"`, time.Second, func(_ Health, _ Retry, u Upstream) any { return u.ConnectTimeout }},
	{"upstream", "read_timeout", `"2s"`, 2 * time.Second, func(_ Health, _ Retry, u Upstream) any { return u.ReadTimeout }},
	{"upstream", "max_request_body_bytes", `10`, int64(10), func(_ Health, _ Retry, u Upstream) any { return u.MaxRequestBodyBytes }},
	{"upstream", "max_response_body_bytes", `20`, int64(20), func(_ Health, _ Retry, u Upstream) any { return u.MaxResponseBodyBytes }},
	{"upstream", "max_idle_conns_per_backend", `4`, 4, func(_ Health, _ Retry, u Upstream) any { return u.MaxIdleConnsPerBackend }},
	{"upstream", "idle_conn_timeout", `"5s"`, 5 * time.Second, func(_ Health, _ Retry, u Upstream) any { return u.IdleConnTimeout }},
	{"health", "interval", `"1s"`, time.Second, func(h Health, _ Retry, _ Upstream) any { return h.Interval }},
	{"health", "timeout", `"500ms"`, 500 * time.Millisecond, func(h Health, _ Retry, _ Upstream) any { return h.Timeout }},
	{"health", "endpoint", `"/ready?deep=1"`, "/ready?deep=1", func(h Health, _ Retry, _ Upstream) any { return h.Endpoint }},
	{"health", "failure_threshold", `5`, 5, func(h Health, _ Retry, _ Upstream) any { return h.FailureThreshold }},
	{"health", "recovery_threshold", `1`, 1, func(h Health, _ Retry, _ Upstream) any { return h.RecoveryThreshold }},
	{"health", "success_status", `[200, 204]`, StatusRange{200, 204}, func(h Health, _ Retry, _ Upstream) any { return h.SuccessStatus }},
	{"health", "passive_failure_status", `[502, 504]`, StatusRange{502, 504}, func(h Health, _ Retry, _ Upstream) any { return h.PassiveFailureStatus }},
	{"health", "ejection_duration", `"1m"`, time.Minute, func(h Health, _ Retry, _ Upstream) any { return h.EjectionDuration }},
	{"health", "max_ejection_duration", `"1h"`, time.Hour, func(h Health, _ Retry, _ Upstream) any { return h.MaxEjectionDuration }},
	{"health", "max_ejected_percent", `100`, 100, func(h Health, _ Retry, _ Upstream) any { return h.MaxEjectedPercent }},
	{"health", "slow_start", `"30s"`, 30 * time.Second, func(h Health, _ Retry, _ Upstream) any { return h.SlowStart }},
	{"retry", "max_attempts", `1`, 1, func(_ Health, r Retry, _ Upstream) any { return r.MaxAttempts }},
	{"retry", "total_timeout", `"9s"`, 9 * time.Second, func(_ Health, r Retry, _ Upstream) any { return r.TotalTimeout }},
	{"retry", "backoff", `"5ms"`, 5 * time.Millisecond, func(_ Health, r Retry, _ Upstream) any { return r.Backoff }},
	{"retry", "retry_on_status", `[503, 429]`, []int{503, 429}, func(_ Health, r Retry, _ Upstream) any { return r.RetryOnStatus }},
	{"retry", "max_buffered_body_bytes", `0`, int64(0), func(_ Health, r Retry, _ Upstream) any { return r.MaxBufferedBodyBytes }},
	{"retry", "budget_percent", `0`, 0, func(_ Health, r Retry, _ Upstream) any { return r.BudgetPercent }},
	{"retry", "min_retry_concurrency", `0`, 0, func(_ Health, r Retry, _ Upstream) any { return r.MinRetryConcurrency }},
}

// TestSectionKeys sets each key once in the global section, where every route
// must inherit it, and once in [route.*], where only that route may see it.
func TestSectionKeys(t *testing.T) {
	def := Default()
	for _, k := range sectionKeys {
		t.Run(k.section+"."+k.key, func(t *testing.T) {
			line := k.key + " = " + k.value + "\n"

			cfg := mustParse(t, "["+k.section+"]\n"+line+oneRoute)
			if got := k.pick(cfg.Health, cfg.Retry, cfg.Upstream); !reflect.DeepEqual(got, k.want) {
				t.Errorf("Parse([%s] %s) global = %v, want %v", k.section, k.key, got, k.want)
			}
			r := cfg.Routes[0]
			if got := k.pick(r.Health, r.Retry, r.Upstream); !reflect.DeepEqual(got, k.want) {
				t.Errorf("Parse([%s] %s) route inherits %v, want %v", k.section, k.key, got, k.want)
			}

			cfg = mustParse(t, oneRoute+"[route."+k.section+"]\n"+line)
			r = cfg.Routes[0]
			if got := k.pick(r.Health, r.Retry, r.Upstream); !reflect.DeepEqual(got, k.want) {
				t.Errorf("Parse([route.%s] %s) route = %v, want %v", k.section, k.key, got, k.want)
			}
			if got, want := k.pick(cfg.Health, cfg.Retry, cfg.Upstream), k.pick(def.Health, def.Retry, def.Upstream); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse([route.%s] %s) changed the global value to %v, want the default %v", k.section, k.key, got, want)
			}
		})
	}
}

// TestInheritance checks that a route override replaces only the keys it
// sets, that the rest comes from the global section as the file set it, and
// that a route without overrides gets the global sections whole.
func TestInheritance(t *testing.T) {
	cfg := mustParse(t, `
[server]
client_body_timeout = "20s"
[upstream]
connect_timeout = "1s"
[health]
interval = "5s"
timeout = "1s"
[retry]
max_attempts = 3
retry_on_status = [503]

[[route]]
path_prefix = "/a"
backends = ["http://127.0.0.1:3001"]
client_body_timeout = "7s"
  [route.health]
  interval = "1s"
  slow_start = "10s"
  [route.retry]
  backoff = "10ms"
  [route.upstream]
  read_timeout = "2s"
  idle_conn_timeout = "90s"

[[route]]
path_prefix = "/b"
backends = ["http://127.0.0.1:3002"]
`)
	a, b := cfg.Routes[0], cfg.Routes[1]

	wantHealth := cfg.Health
	wantHealth.Interval = time.Second
	wantHealth.SlowStart = 10 * time.Second
	wantRetry := cfg.Retry
	wantRetry.Backoff = 10 * time.Millisecond
	wantUpstream := cfg.Upstream
	wantUpstream.ReadTimeout = 2 * time.Second
	wantUpstream.IdleConnTimeout = 90 * time.Second

	tests := []struct {
		name      string
		got, want any
	}{
		{"/a health", a.Health, wantHealth},
		{"/a health timeout", a.Health.Timeout, time.Second},
		{"/a retry", a.Retry, wantRetry},
		{"/a retry max_attempts", a.Retry.MaxAttempts, 3},
		{"/a upstream", a.Upstream, wantUpstream},
		{"/a upstream connect_timeout", a.Upstream.ConnectTimeout, time.Second},
		{"/a upstream idle_conn_timeout", a.Upstream.IdleConnTimeout, 90 * time.Second},
		{"/b upstream idle_conn_timeout", b.Upstream.IdleConnTimeout, 60 * time.Second},
		{"/a client_body_timeout", a.ClientBodyTimeout, 7 * time.Second},
		{"/b health", b.Health, cfg.Health},
		{"/b retry", b.Retry, cfg.Retry},
		{"/b upstream", b.Upstream, cfg.Upstream},
		{"/b client_body_timeout", b.ClientBodyTimeout, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("Parse() %s = %+v\nwant %+v", tt.name, tt.got, tt.want)
			}
		})
	}

	b.Retry.RetryOnStatus[0] = 599
	if cfg.Retry.RetryOnStatus[0] != 503 {
		t.Errorf("route /b shares RetryOnStatus with the global [retry]")
	}
}
