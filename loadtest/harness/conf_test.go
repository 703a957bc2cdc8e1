package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferrum/proxyconf"
)

// testLayout is a layout with fixed addresses and folders.
func testLayout(backends int) layout {
	l := layout{listen: "127.0.0.1:8000", runDir: "/run/bench", confDir: "/res/s", errorLog: "/res/s/nginx.error.log"}
	for i := range backends {
		l.backends = append(l.backends, "127.0.0.1:"+string(rune('1'+i))+"001")
	}
	return l
}

// mustScenario is the named scenario.
func mustScenario(t *testing.T, name string) scenario {
	t.Helper()
	s, ok := scenarioByName(name)
	if !ok {
		t.Fatalf("no scenario %q", name)
	}
	return s
}

// assertLines checks that text holds every want line and none of the
// unwanted ones, each compared after trimming spaces.
func assertLines(t *testing.T, what, text string, want, unwanted []string) {
	t.Helper()
	lines := map[string]bool{}
	for l := range strings.Lines(text) {
		lines[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !lines[w] {
			t.Errorf("%s: no line %q in\n%s", what, w, text)
		}
	}
	for _, u := range unwanted {
		if lines[u] {
			t.Errorf("%s: unwanted line %q", what, u)
		}
	}
}

func TestFerrumConfig(t *testing.T) {
	retry := ferrumConfig(mustScenario(t, "retry_get"), testLayout(2))[0]
	if retry.name != "ferrum.toml" {
		t.Errorf("file name = %q, want ferrum.toml", retry.name)
	}
	assertLines(t, "retry_get", retry.text, []string{
		`listen = "127.0.0.1:8000"`,
		`max_ejected_percent = 0             # no passive ejection: every other request pays a retry`,
		`max_attempts = 2`,
		`retry_on_status = [502, 503, 504]`,
		`budget_percent = 100                # nginx and HAProxy have no retry budget`,
		`min_retry_concurrency = 65536       # ... so none here either`,
		`path_prefix = "/"`,
		`backends = ["http://127.0.0.1:1001", "http://127.0.0.1:2001"]`,
		`balancing = "round_robin"`,
	}, nil)
	healthy := ferrumConfig(mustScenario(t, "healthy_get"), testLayout(2))[0].text
	if strings.Contains(healthy, "max_ejected_percent") || strings.Contains(healthy, "budget_percent") {
		t.Errorf("healthy_get config changes ejection or the retry budget:\n%s", healthy)
	}
	many := ferrumConfig(mustScenario(t, "many_routes"), testLayout(4))[0].text
	if n := strings.Count(many, "[[route]]"); n != manyRoutes {
		t.Errorf("many_routes has %d routes, want %d", n, manyRoutes)
	}
	assertLines(t, "many_routes", many, []string{`path_prefix = "/r0"`, `path_prefix = "/r499"`}, []string{`path_prefix = "/r500"`})
}

// TestFerrumConfigLoads feeds every generated config to ferrum's own
// loader, so a renamed or tightened key fails here and not mid-run.
func TestFerrumConfigLoads(t *testing.T) {
	for _, s := range allScenarios {
		t.Run(s.name, func(t *testing.T) {
			f := ferrumConfig(s, testLayout(len(s.backends)))[0]
			path := filepath.Join(t.TempDir(), f.name)
			if err := os.WriteFile(path, []byte(f.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := proxyconf.Load(path); err != nil {
				t.Errorf("proxyconf.Load(%s config): %v", s.name, err)
			}
		})
	}
}

func TestNginxConfig(t *testing.T) {
	retry := nginxConfig(mustScenario(t, "retry_get"), testLayout(2))[0]
	assertLines(t, "retry_get", retry.text, []string{
		"daemon off;",
		"pid /run/bench/nginx.pid;",
		"error_log /res/s/nginx.error.log warn;",
		"client_body_temp_path /run/bench/client_body;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_next_upstream error timeout http_502 http_503 http_504;",
		"proxy_next_upstream_tries 2;",
		"upstream route0 {",
		"server 127.0.0.1:1001 max_fails=0;",
		"server 127.0.0.1:2001 max_fails=0;",
		"keepalive 128;",
		"listen 127.0.0.1:8000;",
		"location / { proxy_pass http://route0; }",
	}, nil)
	healthy := nginxConfig(mustScenario(t, "healthy_get"), testLayout(2))[0].text
	assertLines(t, "healthy_get", healthy, []string{"server 127.0.0.1:1001;"}, []string{"server 127.0.0.1:1001 max_fails=0;"})
	many := nginxConfig(mustScenario(t, "many_routes"), testLayout(4))[0].text
	assertLines(t, "many_routes", many, []string{
		"location /r0/ { proxy_pass http://route0; }",
		"location /r499/ { proxy_pass http://route499; }",
		"server 127.0.0.1:4001;",
	}, nil)
	if n := strings.Count(many, "keepalive 128;"); n != manyRoutes {
		t.Errorf("many_routes: %d upstreams with keepalive 128, want %d", n, manyRoutes)
	}
	if strings.Count(many, "{") != strings.Count(many, "}") {
		t.Errorf("many_routes: unbalanced braces")
	}
}

func TestHAProxyConfig(t *testing.T) {
	files := haproxyConfig(mustScenario(t, "retry_get"), testLayout(2))
	if len(files) != 1 || files[0].name != "haproxy.cfg" {
		t.Fatalf("retry_get files = %v, want haproxy.cfg alone", files)
	}
	assertLines(t, "retry_get", files[0].text, []string{
		"pidfile /run/bench/haproxy.pid",
		"http-reuse always",
		"retries 1",
		"retry-on conn-failure empty-response response-timeout 502 503 504",
		"option redispatch 1",
		"bind 127.0.0.1:8000",
		"http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }",
		"default_backend route0",
		"backend route0",
		"balance roundrobin",
		"server b0 127.0.0.1:1001",
		"server b1 127.0.0.1:2001",
	}, []string{"option redispatch"})

	many := haproxyConfig(mustScenario(t, "many_routes"), testLayout(4))
	if len(many) != 2 || many[1].name != haproxyRouteMap {
		t.Fatalf("many_routes files = %d, want haproxy.cfg and %s", len(many), haproxyRouteMap)
	}
	assertLines(t, "many_routes", many[0].text, []string{
		"use_backend %[path,field(2,/),map_str(/res/s/haproxy.routes.map,route0)]",
		"backend route499",
		"server b3 127.0.0.1:4001",
	}, []string{"default_backend route0"})
	assertLines(t, "route map", many[1].text, []string{"r0 route0", "r499 route499"}, nil)
}

func TestLuaScripts(t *testing.T) {
	if got := mustScenario(t, "healthy_get").luaScript(); got != "" {
		t.Errorf("healthy_get script = %q, want none", got)
	}
	up := mustScenario(t, "upload_post").luaScript()
	assertLines(t, "upload_post", up, []string{`wrk.method = "POST"`, `wrk.body = string.rep("u", 65536)`}, nil)
	many := mustScenario(t, "many_routes").luaScript()
	assertLines(t, "many_routes", many, []string{
		"for i = 0, 499 do",
		`requests[#requests + 1] = wrk.format("GET", "/r" .. i .. "/item")`,
		"n = n % #requests + 1",
	}, nil)
}
