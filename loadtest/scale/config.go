package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// newRoute is the path prefix a reload adds.
const newRoute = "/new"

// routePrefix is the path prefix of route i: "/r0", "/r1", ...
func routePrefix(i int) string { return "/r" + strconv.Itoa(i) }

// probePath is the request that shows a route is served: a path under its
// prefix, which every proxy here forwards to a backend.
func probePath(prefix string) string { return prefix + "/x" }

// ferrumConfig is ferrum.toml for n routes "/r0" ... over the same
// backends ("127.0.0.1:PORT"), probed every interval, serving on listen.
// Everything else keeps ferrum's defaults; the log level is warn so that
// the log stays short at 10,000 routes.
func ferrumConfig(n int, listen string, backends []string, interval time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferrum for the scale scenario: %d routes over the same %d backends.\n", n, len(backends))
	b.WriteString("# Written by loadtest/scale; see docs/benchmarking.md.\n\n")
	fmt.Fprintf(&b, "[server]\nlisten = %q\ngraceful_shutdown_timeout = \"5s\"\n\n", listen)
	fmt.Fprintf(&b, "[health]\ninterval = %q\nendpoint = %q\n\n", interval.String(), healthPath)
	b.WriteString("[log]\nlevel = \"warn\"\n")
	list := backendList(backends)
	for i := range n {
		writeFerrumRoute(&b, routePrefix(i), list)
	}
	return b.String()
}

// withNewRoute is conf with one more route, newRoute, over the same
// backends: what the reload measurement writes before its SIGHUP.
func withNewRoute(conf string, backends []string) string {
	var b strings.Builder
	b.WriteString(conf)
	writeFerrumRoute(&b, newRoute, backendList(backends))
	return b.String()
}

func writeFerrumRoute(b *strings.Builder, prefix, list string) {
	fmt.Fprintf(b, "\n[[route]]\npath_prefix = %q\nbackends = %s\n", prefix, list)
}

// backendList is a TOML array of the backends' URLs.
func backendList(backends []string) string {
	urls := make([]string, len(backends))
	for i, a := range backends {
		urls[i] = strconv.Quote("http://" + a)
	}
	return "[" + strings.Join(urls, ", ") + "]"
}

// nginxConfig is nginx.conf for the same n routes: one upstream block per
// route, as each ferrum route balances on its own, and one prefix location
// per route. nginx runs in the foreground and writes its pid and temp files
// into runDir, which its workers must be able to enter, and logs to
// errorLog. Open-source nginx has no active health checks, so it sends no
// probes.
//
// Upstream keep-alive is on, as ferrum's is. nginx reserves each upstream's
// keep-alive cache when it reads the config, so its size shows in RSS at
// many routes; 32 is a common production choice, where the load-test
// harness's 128 is sized for throughput.
func nginxConfig(n int, listen string, backends []string, runDir, errorLog string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# nginx for ferrum's scale scenario: %d routes over the same %d backends.\n", n, len(backends))
	b.WriteString("# Written by loadtest/scale; see docs/benchmarking.md.\n")
	b.WriteString("daemon off;\nmaster_process on;\nworker_processes auto;\n")
	fmt.Fprintf(&b, "pid %s/nginx.pid;\nerror_log %s warn;\n\n", runDir, errorLog)
	b.WriteString("events {\n    worker_connections 1024;\n}\n\nhttp {\n    access_log off;\n")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s/%s;\n", t, runDir, t)
	}
	b.WriteString("    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n")
	b.WriteString("    proxy_set_header Host $http_host;\n    proxy_connect_timeout 3s;\n    proxy_read_timeout 15s;\n")
	for i := range n {
		fmt.Fprintf(&b, "\n    upstream route%d {\n", i)
		for _, a := range backends {
			fmt.Fprintf(&b, "        server %s;\n", a)
		}
		b.WriteString("        keepalive 32;\n    }\n")
	}
	fmt.Fprintf(&b, "\n    server {\n        listen %s;\n", listen)
	for i := range n {
		// "location /rN/" is nginx's way to say "/rN/ and below", which
		// is all the tool requests.
		fmt.Fprintf(&b, "        location %s/ { proxy_pass http://route%d; }\n", routePrefix(i), i)
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

// haproxyConfig is haproxy.cfg for the same n routes, and the text of the
// map file at mapPath that it reads. Requests are routed by their first
// path segment through the map (one tree lookup, not n ACLs), to one
// backend section per route, as each ferrum route balances on its own.
//
// The route sections' servers track the servers of one "health" section,
// the only ones with checks (GET healthPath every interval), so each
// backend is probed once per interval whatever the number of routes: what
// issue 11 asks of ferrum, written the HAProxy way.
func haproxyConfig(n int, listen string, backends []string, runDir, mapPath string, interval time.Duration) (cfg, routeMap string) {
	var b strings.Builder
	fmt.Fprintf(&b, "# HAProxy for ferrum's scale scenario: %d routes over the same %d backends.\n", n, len(backends))
	b.WriteString("# Written by loadtest/scale; see docs/benchmarking.md.\n")
	fmt.Fprintf(&b, "global\n    maxconn 1024\n    pidfile %s/haproxy.pid\n\n", runDir)
	b.WriteString("defaults\n    mode http\n    option http-keep-alive\n    http-reuse always\n")
	b.WriteString("    timeout connect 3s\n    timeout client 30s\n    timeout server 15s\n")
	fmt.Fprintf(&b, "    option httpchk GET %s\n\n", healthPath)
	fmt.Fprintf(&b, "frontend proxy\n    bind %s\n", listen)
	fmt.Fprintf(&b, "    use_backend %%[path,field(2,/),map_str(%s)]\n", mapPath)
	b.WriteString("\nbackend health\n")
	for j, a := range backends {
		fmt.Fprintf(&b, "    server b%d %s check inter %dms\n", j, a, interval.Milliseconds())
	}
	var m strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "\nbackend route%d\n    balance roundrobin\n", i)
		for j, a := range backends {
			fmt.Fprintf(&b, "    server b%d %s track health/b%d\n", j, a, j)
		}
		fmt.Fprintf(&m, "%s route%d\n", strings.TrimPrefix(routePrefix(i), "/"), i)
	}
	return b.String(), m.String()
}
