//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"ferrum/proxyconf"
)

func decode(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if _, err := toml.Decode(text, &m); err != nil {
		t.Fatalf("toml.Decode: %v\n%s", err, text)
	}
	return m
}

func TestConfTOML(t *testing.T) {
	slow := baseConf("slow")
	slow.upstream = []kv{{"read_timeout", "1s"}}
	slow.retry = []kv{{"max_attempts", 1}, {"retry_on_status", []int{502, 504}}}
	slow.routes = []routeConf{{prefix: "/slow", backends: []string{"http://127.0.0.1:3001"}, keys: []kv{{"strip_prefix", true}}}}

	storm := stormConfigs("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")

	tests := []struct {
		name string
		c    conf
		// want maps "section.key" (or "route[i].key") to its value.
		want map[string]any
	}{
		{"slow backend", slow, map[string]any{
			"server.listen":                    "127.0.0.1:0",
			"server.graceful_shutdown_timeout": "5s",
			"upstream.read_timeout":            "1s",
			"retry.max_attempts":               int64(1),
			"log.level":                        "info",
			"route[0].path_prefix":             "/slow",
			"route[0].strip_prefix":            true,
		}},
		{"storm without c", storm[0], map[string]any{
			"health.interval":      "2s",
			"route[0].path_prefix": "/stable",
			"route[1].path_prefix": "/gone",
		}},
		{"storm with c", storm[1], map[string]any{
			"route[0].path_prefix": "/stable",
			"route[1].path_prefix": "/new",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.c.toml()
			m := decode(t, text)
			for key, want := range tt.want {
				if got := lookup(m, key); got != want {
					t.Errorf("%s = %#v, want %#v", key, got, want)
				}
			}
			// ferrum itself must take every config an experiment writes.
			if _, err := proxyconf.Parse("ferrum.toml", []byte(text), func(string) string { return "" }); err != nil {
				t.Errorf("proxyconf.Parse: %v\n%s", err, text)
			}
		})
	}
}

// lookup finds "section.key" or "route[i].key" in a decoded file.
func lookup(m map[string]any, path string) any {
	section, key, _ := strings.Cut(path, ".")
	if rest, ok := strings.CutPrefix(section, "route["); ok {
		routes, _ := m["route"].([]map[string]any)
		i := int(rest[0] - '0')
		if i >= len(routes) {
			return nil
		}
		return routes[i][key]
	}
	s, _ := m[section].(map[string]any)
	return s[key]
}

func TestStormBackends(t *testing.T) {
	storm := stormConfigs("A", "B", "C")
	if got := strings.Join(storm[0].routes[0].backends, ","); got != "A,B" {
		t.Errorf("config 0 /stable backends = %s, want A,B", got)
	}
	if got := strings.Join(storm[1].routes[0].backends, ","); got != "A,B,C" {
		t.Errorf("config 1 /stable backends = %s, want A,B,C", got)
	}
}

func TestBroken(t *testing.T) {
	valid := baseConf("broken")
	valid.routes = []routeConf{{prefix: "/k", backends: []string{"http://127.0.0.1:3001"}}}
	tests := []struct {
		kind brokenKind
		// decodes is whether the text is still TOML; check looks at it.
		decodes bool
		check   func(text string, m map[string]any) bool
	}{
		{brokenSyntax, false, func(text string, _ map[string]any) bool { return strings.Contains(text, "[server\n") }},
		{brokenControl, false, func(text string, _ map[string]any) bool { return text[0] == 0x01 && text[1:] == valid.toml() }},
		{brokenUnknownKey, true, func(_ string, m map[string]any) bool { return lookup(m, "server.listen_typo") != nil }},
		{brokenNoRoutes, true, func(_ string, m map[string]any) bool { return m["route"] == nil && m["server"] != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			text := broken(valid, tt.kind)
			var m map[string]any
			_, err := toml.Decode(text, &m)
			if (err == nil) != tt.decodes {
				t.Fatalf("toml.Decode error = %v, want decodes %v", err, tt.decodes)
			}
			if !tt.check(text, m) {
				t.Errorf("broken(%s) = %q, not broken that way", tt.kind, text)
			}
		})
	}
	if len(valid.server) != 1 {
		t.Errorf("broken changed the caller's conf: server = %v", valid.server)
	}
}

func TestTOMLValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"1s", `"1s"`},
		{`a"b`, `"a\"b"`},
		{42, "42"},
		{false, "false"},
		{[]string{"x", "y"}, `["x", "y"]`},
		{[]int{502, 504}, "[502, 504]"},
		{[]string{}, "[]"},
	}
	for _, tt := range tests {
		if got := tomlValue(tt.in); got != tt.want {
			t.Errorf("tomlValue(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
