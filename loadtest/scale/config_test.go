package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// ferrumFile is the part of ferrum.toml the tool writes, read back to check
// the text is TOML and says what was asked. proxyconf is not used, so that
// these tests do not depend on the proxy's own packages.
type ferrumFile struct {
	Server struct {
		Listen                  string `toml:"listen"`
		GracefulShutdownTimeout string `toml:"graceful_shutdown_timeout"`
	} `toml:"server"`
	Log struct {
		Level string `toml:"level"`
	} `toml:"log"`
	Health struct {
		Interval string `toml:"interval"`
		Endpoint string `toml:"endpoint"`
	} `toml:"health"`
	Route []struct {
		PathPrefix string   `toml:"path_prefix"`
		Backends   []string `toml:"backends"`
	} `toml:"route"`
}

var testBackends = []string{"127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003", "127.0.0.1:3004"}

func TestFerrumConfig(t *testing.T) {
	for _, tc := range []struct {
		routes   int
		interval time.Duration
		wantIvl  string
	}{
		{1, 5 * time.Second, "5s"},
		{10, 5 * time.Second, "5s"},
		{1000, 200 * time.Millisecond, "200ms"},
		{3, 90 * time.Second, "1m30s"},
	} {
		t.Run(fmt.Sprint(tc.routes, "/", tc.interval), func(t *testing.T) {
			text := ferrumConfig(tc.routes, "127.0.0.1:9000", testBackends, tc.interval)
			var f ferrumFile
			md, err := toml.Decode(text, &f)
			if err != nil {
				t.Fatalf("ferrumConfig(%d) is not TOML: %v\n%s", tc.routes, err, text)
			}
			if extra := md.Undecoded(); len(extra) > 0 {
				t.Errorf("ferrumConfig(%d) has keys the test does not know: %v", tc.routes, extra)
			}
			if f.Server.Listen != "127.0.0.1:9000" || f.Health.Interval != tc.wantIvl || f.Health.Endpoint != healthPath {
				t.Errorf("listen, interval, endpoint = %q, %q, %q; want 127.0.0.1:9000, %s, %s",
					f.Server.Listen, f.Health.Interval, f.Health.Endpoint, tc.wantIvl, healthPath)
			}
			if len(f.Route) != tc.routes {
				t.Fatalf("ferrumConfig(%d) has %d routes", tc.routes, len(f.Route))
			}
			for i, r := range f.Route {
				if want := fmt.Sprintf("/r%d", i); r.PathPrefix != want {
					t.Errorf("route[%d].path_prefix = %q, want %q", i, r.PathPrefix, want)
				}
				if got := strings.Join(r.Backends, ","); got != "http://127.0.0.1:3001,http://127.0.0.1:3002,http://127.0.0.1:3003,http://127.0.0.1:3004" {
					t.Errorf("route[%d].backends = %s", i, got)
				}
			}

			var g ferrumFile
			if _, err := toml.Decode(withNewRoute(text, testBackends), &g); err != nil {
				t.Fatalf("withNewRoute is not TOML: %v", err)
			}
			if len(g.Route) != tc.routes+1 || g.Route[tc.routes].PathPrefix != newRoute || len(g.Route[tc.routes].Backends) != 4 {
				t.Errorf("withNewRoute: %d routes, last %+v; want %d, the last %s over 4 backends", len(g.Route), g.Route[len(g.Route)-1], tc.routes+1, newRoute)
			}
		})
	}
}

func TestNginxConfig(t *testing.T) {
	for _, routes := range []int{1, 10, 500} {
		t.Run(fmt.Sprint(routes), func(t *testing.T) {
			text := nginxConfig(routes, "127.0.0.1:9000", testBackends, "/run/x", "/run/x/error.log")
			for _, tc := range []struct {
				needle string
				want   int
			}{
				{"    upstream route", routes},
				{"        server 127.0.0.1:300", routes * len(testBackends)},
				{"        keepalive 32;", routes},
				{"        location /r", routes},
				{"listen 127.0.0.1:9000;", 1},
				{"pid /run/x/nginx.pid;", 1},
				{"daemon off;", 1},
			} {
				if got := strings.Count(text, tc.needle); got != tc.want {
					t.Errorf("nginxConfig(%d): %q appears %d times, want %d", routes, tc.needle, got, tc.want)
				}
			}
			last := fmt.Sprintf("location /r%d/ { proxy_pass http://route%d; }", routes-1, routes-1)
			if !strings.Contains(text, last) {
				t.Errorf("nginxConfig(%d) has no %q", routes, last)
			}
			if strings.Count(text, "{") != strings.Count(text, "}") {
				t.Errorf("nginxConfig(%d): unbalanced braces", routes)
			}
		})
	}
}

func TestHAProxyConfig(t *testing.T) {
	for _, tc := range []struct {
		routes   int
		interval time.Duration
		inter    string
	}{
		{1, 5 * time.Second, "inter 5000ms"},
		{10, 200 * time.Millisecond, "inter 200ms"},
		{300, 5 * time.Second, "inter 5000ms"},
	} {
		t.Run(fmt.Sprint(tc.routes), func(t *testing.T) {
			cfg, routeMap := haproxyConfig(tc.routes, "127.0.0.1:9000", testBackends, "/run/x", "/run/x/routes.map", tc.interval)
			for _, c := range []struct {
				needle string
				want   int
			}{
				// Only the health section's servers are checked; the routes'
				// servers follow them.
				{" check " + tc.inter + "\n", len(testBackends)},
				{" check", len(testBackends)},
				{" track health/b", tc.routes * len(testBackends)},
				{"\nbackend route", tc.routes},
				{"\nbackend health\n", 1},
				{"bind 127.0.0.1:9000\n", 1},
				{"map_str(/run/x/routes.map)", 1},
				{"option httpchk GET /health\n", 1},
			} {
				if got := strings.Count(cfg, c.needle); got != c.want {
					t.Errorf("haproxyConfig(%d): %q appears %d times, want %d", tc.routes, c.needle, got, c.want)
				}
			}
			lines := strings.Split(strings.TrimSuffix(routeMap, "\n"), "\n")
			if len(lines) != tc.routes {
				t.Fatalf("route map has %d lines, want %d", len(lines), tc.routes)
			}
			for i, l := range lines {
				if want := fmt.Sprintf("r%d route%d", i, i); l != want {
					t.Errorf("route map line %d = %q, want %q", i, l, want)
				}
			}
		})
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{routePrefix(0), "/r0"},
		{routePrefix(9999), "/r9999"},
		{probePath(routePrefix(9)), "/r9/x"},
		{probePath(newRoute), "/new/x"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
