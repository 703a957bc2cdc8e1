//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
)

// kv is one key of a ferrum.toml section and its value: a string, an int,
// a bool, or a slice of strings or ints.
type kv struct {
	key string
	val any
}

// routeConf is one [[route]] of a generated config.
type routeConf struct {
	prefix   string
	backends []string // URLs
	keys     []kv     // other route keys, written after backends
}

// conf is a ferrum.toml an experiment runs with. Only keys that are set
// are written, so ferrum's defaults (client_body_min_rate,
// idle_conn_timeout, ...) apply unless an experiment says otherwise; that
// keeps the files valid for a ferrum that does not know a newer key.
type conf struct {
	// about is written as a comment at the top.
	about string
	// listen is server.listen; "127.0.0.1:0" lets the kernel pick a port,
	// which ferrum names in its server_start log line.
	listen                          string
	server, upstream, health, retry []kv
	logLevel                        string
	routes                          []routeConf
}

// baseConf is what every experiment starts from: loopback, an ephemeral
// port, info logs (health_transition and config_reload are at info), and a
// short drain so a killed experiment leaves nothing behind for long.
func baseConf(about string) conf {
	return conf{
		about:    about,
		listen:   "127.0.0.1:0",
		server:   []kv{{"graceful_shutdown_timeout", "5s"}},
		logLevel: "info",
	}
}

// toml renders c as ferrum.toml text.
func (c conf) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# Written by loadtest/torture.\n\n", c.about)
	b.WriteString("[server]\n")
	writeKeys(&b, append([]kv{{"listen", c.listen}}, c.server...))
	for _, s := range []struct {
		name string
		keys []kv
	}{{"upstream", c.upstream}, {"health", c.health}, {"retry", c.retry}} {
		if len(s.keys) > 0 {
			fmt.Fprintf(&b, "\n[%s]\n", s.name)
			writeKeys(&b, s.keys)
		}
	}
	if c.logLevel != "" {
		fmt.Fprintf(&b, "\n[log]\nlevel = %s\n", tomlValue(c.logLevel))
	}
	for _, r := range c.routes {
		b.WriteString("\n[[route]]\n")
		writeKeys(&b, append([]kv{{"path_prefix", r.prefix}, {"backends", r.backends}}, r.keys...))
	}
	return b.String()
}

func writeKeys(b *strings.Builder, keys []kv) {
	for _, k := range keys {
		fmt.Fprintf(b, "%s = %s\n", k.key, tomlValue(k.val))
	}
}

// tomlValue writes v as a TOML value. strconv.Quote's escapes are valid in
// a TOML basic string for the ASCII text the experiments use.
func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []int:
		q := make([]string, len(v))
		for i, n := range v {
			q[i] = strconv.Itoa(n)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		panic(fmt.Sprintf("tomlValue: unsupported %T", v))
	}
}

// brokenKind is one way a reload_storm config file is wrong.
type brokenKind int

const (
	brokenSyntax     brokenKind = iota // a TOML syntax error
	brokenControl                      // a control character as the first byte
	brokenUnknownKey                   // a key ferrum does not know
	brokenNoRoutes                     // no [[route]] at all
	brokenKinds
)

func (k brokenKind) String() string {
	switch k {
	case brokenSyntax:
		return "syntax_error"
	case brokenControl:
		return "control_char"
	case brokenUnknownKey:
		return "unknown_key"
	case brokenNoRoutes:
		return "zero_routes"
	}
	return "brokenKind(" + strconv.Itoa(int(k)) + ")"
}

// broken turns the valid config c into a file ferrum must refuse, in the
// way k says. Apart from its one fault, the file is c.
func broken(c conf, k brokenKind) string {
	switch k {
	case brokenSyntax:
		return strings.Replace(c.toml(), "[server]", "[server", 1)
	case brokenControl:
		return "\x01" + c.toml()
	case brokenUnknownKey:
		c.server = append(append([]kv(nil), c.server...), kv{"listen_typo", "127.0.0.1:1"})
		return c.toml()
	case brokenNoRoutes:
		c.routes = nil
		return c.toml()
	}
	panic("broken: unknown kind " + k.String())
}

// backendURL is the URL ferrum.toml names a loopback backend by.
func backendURL(addr string) string { return "http://" + addr }
