package proxyconf

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// oneRoute is the smallest valid route, appended to files that test something else.
const oneRoute = `
[[route]]
path_prefix = "/"
backends = ["http://127.0.0.1:3001"]
`

// mustParse parses file as ferrum.toml with no environment and fails the
// test on any problem.
func mustParse(t *testing.T, file string) *Config {
	t.Helper()
	cfg, err := Parse("ferrum.toml", []byte(file), nil)
	if err != nil {
		t.Fatalf("Parse() error = %q, want none; file:\n%s", err, file)
	}
	return cfg
}

func TestDefault(t *testing.T) {
	want := Config{
		Server: Server{
			Listen:                  "0.0.0.0:8080",
			GracefulShutdownTimeout: 30 * time.Second,
			ClientHeaderTimeout:     10 * time.Second,
			ClientBodyTimeout:       15 * time.Second,
			ClientBodyMinRate:       240,
			IdleTimeout:             90 * time.Second,
			MaxHeaderBytes:          65536,
		},
		Upstream: Upstream{
			ConnectTimeout:         3 * time.Second,
			ReadTimeout:            15 * time.Second,
			MaxRequestBodyBytes:    16777216,
			MaxResponseBodyBytes:   67108864,
			MaxIdleConnsPerBackend: 128,
			IdleConnTimeout:        60 * time.Second,
		},
		Health: Health{
			Interval:             10 * time.Second,
			Timeout:              2 * time.Second,
			Endpoint:             "/health",
			FailureThreshold:     3,
			RecoveryThreshold:    2,
			SuccessStatus:        StatusRange{200, 399},
			PassiveFailureStatus: StatusRange{500, 599},
			EjectionDuration:     30 * time.Second,
			MaxEjectionDuration:  5 * time.Minute,
			MaxEjectedPercent:    50,
		},
		Retry: Retry{
			MaxAttempts:          2,
			TotalTimeout:         5 * time.Second,
			Backoff:              50 * time.Millisecond,
			RetryOnStatus:        []int{502, 503, 504},
			MaxBufferedBodyBytes: 65536,
			BudgetPercent:        20,
			MinRetryConcurrency:  3,
		},
		Debug: Debug{ExposeBackendHealth: true, ExposeMetrics: true},
		Log:   Log{Level: slog.LevelInfo, Format: "text", AccessLogQuery: true},
	}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() = %+v\nwant %+v", got, want)
	}

	a, b := Default(), Default()
	a.Retry.RetryOnStatus[0] = 599
	if b.Retry.RetryOnStatus[0] != 502 {
		t.Errorf("Default() values share RetryOnStatus")
	}
}

func TestParseDefaults(t *testing.T) {
	cfg := mustParse(t, oneRoute)
	def := Default()
	def.File = "ferrum.toml"
	def.Routes = cfg.Routes
	if !reflect.DeepEqual(*cfg, def) {
		t.Errorf("Parse(one route) globals = %+v\nwant the defaults %+v", *cfg, def)
	}
	want := Route{
		PathPrefix:        "/",
		Backends:          []Backend{{URL: "http://127.0.0.1:3001", Host: "127.0.0.1:3001", Weight: 1}},
		Balancing:         RoundRobin,
		HashKey:           HashKey{Source: HashClientIP},
		PreserveHost:      true,
		ClientBodyTimeout: 15 * time.Second,
		Health:            def.Health,
		Retry:             def.Retry,
		Upstream:          def.Upstream,
	}
	if len(cfg.Routes) != 1 || !reflect.DeepEqual(cfg.Routes[0], want) {
		t.Errorf("Parse(one route) routes = %+v\nwant [%+v]", cfg.Routes, want)
	}
}

// TestShippedFile loads the file ferrum ships with.
func TestShippedFile(t *testing.T) {
	cfg := mustParse(t, `
[server]
listen = "0.0.0.0:8080"
[health]
interval = "5s"
[[route]]
path_prefix = "/api"
backends = ["http://127.0.0.1:3001", "http://127.0.0.1:3002", "http://127.0.0.1:3003"]
balancing = "round_robin"
[[route]]
path_prefix = "/static"
backends = ["http://127.0.0.1:4000"]
`)
	if len(cfg.Routes) != 2 || cfg.Routes[0].PathPrefix != "/api" || cfg.Routes[1].PathPrefix != "/static" {
		t.Fatalf("Parse(shipped) routes = %+v, want /api then /static", cfg.Routes)
	}
	if got := len(cfg.Routes[0].Backends); got != 3 {
		t.Errorf("Parse(shipped) /api has %d backends, want 3", got)
	}
	if got := cfg.Routes[1].Health.Interval; got != 5*time.Second {
		t.Errorf("Parse(shipped) /static health interval = %v, want 5s from [health]", got)
	}
}

// TestEveryGlobalKey sets every key of [server], [debug] and [log] away from
// its default.
func TestEveryGlobalKey(t *testing.T) {
	cfg := mustParse(t, `
[server]
listen = "127.0.0.1:9000"
shutdown_delay = "5s"
graceful_shutdown_timeout = "1m"
client_header_timeout = "2s"
client_body_timeout = "3s"
client_body_min_rate = 1024
idle_timeout = "4s"
max_header_bytes = 1024
trusted_proxies = ["10.0.0.0/8", "192.168.1.7", "::1", "10.1.2.3/16", "fd00::/8"]
fail_on_dead_pool = true
[debug]
expose_backend_health = false
expose_metrics = false
auth_token = "s3cret"
listen = "127.0.0.1:9090"
[log]
level = "debug"
format = "json"
access_log = true
access_log_query = false
`+oneRoute)
	wantServer := Server{
		Listen:                  "127.0.0.1:9000",
		ShutdownDelay:           5 * time.Second,
		GracefulShutdownTimeout: time.Minute,
		ClientHeaderTimeout:     2 * time.Second,
		ClientBodyTimeout:       3 * time.Second,
		ClientBodyMinRate:       1024,
		IdleTimeout:             4 * time.Second,
		MaxHeaderBytes:          1024,
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("10.1.0.0/16"),
			netip.MustParsePrefix("fd00::/8"),
		},
		FailOnDeadPool: true,
	}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("Parse() server = %+v\nwant %+v", cfg.Server, wantServer)
	}
	wantDebug := Debug{AuthToken: "s3cret", Listen: "127.0.0.1:9090"}
	if cfg.Debug != wantDebug {
		t.Errorf("Parse() debug = %+v, want %+v", cfg.Debug, wantDebug)
	}
	wantLog := Log{Level: slog.LevelDebug, Format: "json", AccessLog: true, AccessLogQuery: false}
	if cfg.Log != wantLog {
		t.Errorf("Parse() log = %+v, want %+v", cfg.Log, wantLog)
	}
	if got := cfg.Routes[0].ClientBodyTimeout; got != 3*time.Second {
		t.Errorf("Parse() route client_body_timeout = %v, want 3s from [server]", got)
	}
}

func TestLogLevels(t *testing.T) {
	for name, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mustParse(t, "[log]\nlevel = \""+name+"\"\n"+oneRoute)
			if cfg.Log.Level != want {
				t.Errorf("Parse(level %s) = %v, want %v", name, cfg.Log.Level, want)
			}
		})
	}
}

func TestStatusRangeContains(t *testing.T) {
	r := StatusRange{200, 399}
	for code, want := range map[int]bool{199: false, 200: true, 302: true, 399: true, 400: false} {
		if got := r.Contains(code); got != want {
			t.Errorf("StatusRange{200, 399}.Contains(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestRetriesStatus(t *testing.T) {
	r := Default().Retry
	for code, want := range map[int]bool{500: false, 502: true, 503: true, 504: true, 505: false} {
		if got := r.RetriesStatus(code); got != want {
			t.Errorf("Retry{%v}.RetriesStatus(%d) = %v, want %v", r.RetryOnStatus, code, got, want)
		}
	}
	if (Retry{}).RetriesStatus(502) {
		t.Errorf("Retry{}.RetriesStatus(502) = true, want false")
	}
}

// TestClientBodyMinRate checks the one server key a route cannot override
// and its 0 that turns the minimum off.
func TestClientBodyMinRate(t *testing.T) {
	cfg := mustParse(t, "[server]\nclient_body_min_rate = 0\n"+oneRoute)
	if got := cfg.Server.ClientBodyMinRate; got != 0 {
		t.Errorf("Parse(client_body_min_rate = 0) = %d, want 0 (no minimum)", got)
	}
	cfg = mustParse(t, oneRoute)
	if got := cfg.Server.ClientBodyMinRate; got != 240 {
		t.Errorf("Parse(no client_body_min_rate) = %d, want the default 240", got)
	}
}

// TestNoRoutes wants a file without a [[route]] refused with exactly one
// problem on the key route, however the routes came to be missing.
func TestNoRoutes(t *testing.T) {
	const want = "ferrum.toml: route: no [[route]] defined; add at least one [[route]] with path_prefix and backends"
	for name, file := range map[string]string{
		"empty":               "",
		"byte order mark":     "\ufeff",
		"white space":         " \n\t\r\n",
		"comment only":        "# routes follow\n",
		"server only":         "[server]\nlisten = \":8080\"\n",
		"truncated before it": "[server]\nlisten = \":8080\"\n[health]\ninterval = \"5s\"\n",
		"empty array":         "route = []\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(file), nil)
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != "route" || err.Error() != want {
				t.Errorf("Parse(%s) error = %q, want exactly %q", name, err, want)
			}
		})
	}

	// With other mistakes in the file, the missing routes are one more.
	_, err := Parse("ferrum.toml", []byte("[server]\nlisten = \"8080\"\n"), nil)
	wantBoth := "ferrum.toml: server.listen: \"8080\" is not host:port; write it like \"0.0.0.0:8080\" or \":8080\"\n" + want
	if err == nil || err.Error() != wantBoth {
		t.Errorf("Parse(bad listen, no route) error =\n%v\nwant\n%s", err, wantBoth)
	}

	// A route that is there but wrong is not reported as missing.
	_, err = Parse("ferrum.toml", []byte("route = 1\n"), nil)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, "must be an array of tables") {
		t.Errorf("Parse(route = 1) error = %q, want only that route must be an array of tables", err)
	}

	def := Default()
	if table := def.RouteTable(); strings.Contains(table, "route") {
		t.Errorf("RouteTable() without routes = %q, want no route block", table)
	}
}
