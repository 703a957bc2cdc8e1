package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// haproxyRouteMap is the map file of first path segments to backends that
// haproxyConfig writes for scenarios with more than one route.
const haproxyRouteMap = "haproxy.routes.map"

// haproxyConfig writes haproxy.cfg for s: the same routes, backends,
// retries, probes and forwarding headers as ferrum's config. HAProxy runs
// in the foreground (-db) and writes only its pid file, into runDir.
//
// Choices beyond HAProxy's defaults, each to put it on ferrum's terms:
//   - http-reuse always, so idle upstream connections serve any request;
//   - L7 retries (retry-on) on the statuses ferrum retries, redispatched
//     to another server, and only for idempotent methods;
//   - active checks of GET /health every 10s, as ferrum probes;
//   - many routes are looked up in a map by first path segment, one tree
//     lookup per request, rather than a list of path_beg rules.
func haproxyConfig(s scenario, l layout) []genFile {
	var b strings.Builder
	fmt.Fprintf(&b, "# HAProxy for ferrum's load-test scenario %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md.\n")
	b.WriteString("global\n")
	// Each connection takes two descriptors; HAProxy refuses to start
	// when maxconn needs more than the descriptor limit allows.
	indentLine(&b, 1, "maxconn 4096")
	indentLine(&b, 1, "pidfile "+filepath.Join(l.runDir, "haproxy.pid"))
	b.WriteString("\ndefaults\n")
	for _, line := range []string{
		"mode http",
		"option http-keep-alive",
		"http-reuse always",
		"timeout connect 3s",
		"timeout client 30s",
		"timeout server 15s",
		"timeout http-request 10s",
		"timeout http-keep-alive " + clientIdle,
		fmt.Sprintf("retries %d", attempts-1),
		"retry-on conn-failure empty-response response-timeout 502 503 504",
		"option redispatch 1",
		"option forwardfor",
		"option httpchk GET /health",
		"default-server check inter " + healthEvery,
	} {
		indentLine(&b, 1, line)
	}
	b.WriteString("\nfrontend proxy\n")
	for _, line := range []string{
		"bind " + l.listen,
		"http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }",
		"http-request set-header X-Forwarded-Proto http",
		"http-request set-header X-Forwarded-Host %[req.hdr(host)]",
		"http-request set-header X-Request-Id %[uuid] unless { req.hdr(x-request-id) -m found }",
	} {
		indentLine(&b, 1, line)
	}
	var files []genFile
	if s.routes == 1 {
		indentLine(&b, 1, "default_backend "+routeName(0))
	} else {
		mapPath := filepath.Join(l.confDir, haproxyRouteMap)
		indentLine(&b, 1, fmt.Sprintf("use_backend %%[path,field(2,/),map_str(%s,%s)]", mapPath, routeName(0)))
		var m strings.Builder
		for i := range s.routes {
			fmt.Fprintf(&m, "%s %s\n", strings.TrimPrefix(s.routePrefix(i), "/"), routeName(i))
		}
		files = append(files, genFile{name: haproxyRouteMap, text: m.String()})
	}
	for i := range s.routes {
		fmt.Fprintf(&b, "\nbackend %s\n", routeName(i))
		indentLine(&b, 1, "balance roundrobin")
		for j, a := range l.backends {
			indentLine(&b, 1, fmt.Sprintf("server b%d %s", j, a))
		}
	}
	return append([]genFile{{name: "haproxy.cfg", text: b.String()}}, files...)
}
