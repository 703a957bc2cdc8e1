package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// nginxConfig writes nginx.conf for s: the same routes, backends, retries
// and forwarding headers as ferrum's config, with keep-alive upstream
// connections. nginx runs in the foreground with every file it writes
// (pid, temp directories, error log) in runDir or errorLog.
//
// Choices beyond nginx's defaults, each to put it on ferrum's terms:
//   - keepalive 128 per upstream with HTTP/1.1 and Connection cleared, so
//     upstream connections are reused rather than opened per request;
//   - keepalive_requests raised on both sides: ferrum never closes a
//     connection after a number of requests;
//   - proxy_max_temp_file_size 0 and client_body_buffer_size 128k, so no
//     request or response is spooled to disk (ferrum streams both);
//   - in retrying scenarios max_fails=0: no passive ejection, as ferrum's
//     max_ejected_percent = 0.
func nginxConfig(s scenario, l layout) []genFile {
	var b strings.Builder
	run := func(name string) string { return filepath.Join(l.runDir, name) }
	fmt.Fprintf(&b, "# nginx for ferrum's load-test scenario %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md.\n")
	b.WriteString("daemon off;\nmaster_process on;\nworker_processes auto;\n")
	fmt.Fprintf(&b, "pid %s;\nerror_log %s warn;\n\n", run("nginx.pid"), l.errorLog)
	b.WriteString("events {\n    worker_connections 4096;\n}\n\nhttp {\n")
	for _, line := range []string{
		"access_log off;",
		"client_body_temp_path " + run("client_body") + ";",
		"proxy_temp_path " + run("proxy") + ";",
		"fastcgi_temp_path " + run("fastcgi") + ";",
		"uwsgi_temp_path " + run("uwsgi") + ";",
		"scgi_temp_path " + run("scgi") + ";",
		"keepalive_timeout " + clientIdle + ";",
		"keepalive_requests 1000000;",
		"client_max_body_size 16m;",
		"client_body_buffer_size 128k;",
		"",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header Host $http_host;",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_set_header X-Forwarded-Host $host;",
		"proxy_set_header X-Request-Id $request_id;",
		"proxy_connect_timeout 3s;",
		"proxy_read_timeout 15s;",
		"proxy_max_temp_file_size 0;",
		"proxy_next_upstream error timeout http_502 http_503 http_504;",
		fmt.Sprintf("proxy_next_upstream_tries %d;", attempts),
	} {
		indentLine(&b, 1, line)
	}
	serverOpts := ""
	if s.retrying {
		serverOpts = " max_fails=0"
	}
	for i := range s.routes {
		fmt.Fprintf(&b, "\n    upstream %s {\n", routeName(i))
		for _, a := range l.backends {
			fmt.Fprintf(&b, "        server %s%s;\n", a, serverOpts)
		}
		fmt.Fprintf(&b, "        keepalive %d;\n        keepalive_requests 1000000;\n        keepalive_timeout %s;\n    }\n",
			upstreamIdle, clientIdle)
	}
	fmt.Fprintf(&b, "\n    server {\n        listen %s;\n", l.listen)
	for i := range s.routes {
		// A route "/rN" matches "/rN" and "/rN/..."; "location /rN/" is
		// nginx's way to say the second, which is all the script sends.
		loc := s.routePrefix(i)
		if loc != "/" {
			loc += "/"
		}
		fmt.Fprintf(&b, "        location %s { proxy_pass http://%s; }\n", loc, routeName(i))
	}
	b.WriteString("    }\n}\n")
	return []genFile{{name: "nginx.conf", text: b.String()}}
}

// routeName names route i's upstream block in nginx and its backend
// section in HAProxy.
func routeName(i int) string {
	return fmt.Sprintf("route%d", i)
}

// indentLine writes line indented by depth levels of four spaces; an empty
// line stays empty.
func indentLine(b *strings.Builder, depth int, line string) {
	if line != "" {
		b.WriteString(strings.Repeat("    ", depth))
		b.WriteString(line)
	}
	b.WriteByte('\n')
}
