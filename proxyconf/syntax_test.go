package proxyconf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// everyKey sets every key of the contract, route overrides included, each to
// a valid value.
const everyKey = `
[server]
listen = "127.0.0.1:8081"
shutdown_delay = "2s"
graceful_shutdown_timeout = "20s"
client_header_timeout = "5s"
client_body_timeout = "10s"
client_body_min_rate = 512
idle_timeout = "60s"
max_header_bytes = 32768
trusted_proxies = ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]
fail_on_dead_pool = true

[upstream]
connect_timeout = "1s"
read_timeout = "10s"
max_request_body_bytes = 1048576
max_response_body_bytes = 8388608
max_idle_conns_per_backend = 32
idle_conn_timeout = "30s"

[health]
interval = "5s"
timeout = "1s"
endpoint = "/ready"
failure_threshold = 2
recovery_threshold = 1
success_status = [200, 299]
passive_failure_status = [502, 504]
ejection_duration = "10s"
max_ejection_duration = "2m"
max_ejected_percent = 34
slow_start = "20s"

[retry]
max_attempts = 3
total_timeout = "4s"
backoff = "25ms"
retry_on_status = [502, 503]
max_buffered_body_bytes = 4096
budget_percent = 10
min_retry_concurrency = 2

[debug]
expose_backend_health = false
expose_metrics = true
auth_token = "t0ken"
listen = "127.0.0.1:9091"

[log]
level = "warn"
format = "json"
access_log = true
access_log_query = false

[[route]]
path_prefix = "/api"
backends = ["http://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 3 }]
balancing = "consistent_hash"
hash_key = "header:X-User-Id"
strip_prefix = true
preserve_host = false
client_body_timeout = "30s"
  [route.health]
  interval = "2s"
  endpoint = "/api/health"
  [route.retry]
  max_attempts = 1
  [route.upstream]
  read_timeout = "60s"
  idle_conn_timeout = "5s"

[[route]]
path_prefix = "/"
backends = ["http://[::1]:4000"]
balancing = "least_requests"
`

func TestEveryKeyFile(t *testing.T) {
	cfg := mustParse(t, everyKey)
	if cfg.Server.ClientBodyMinRate != 512 || cfg.Upstream.IdleConnTimeout.String() != "30s" || cfg.Log.AccessLogQuery {
		t.Errorf("Parse(every key) = min rate %d, idle conn timeout %v, access log query %t; want 512, 30s, false",
			cfg.Server.ClientBodyMinRate, cfg.Upstream.IdleConnTimeout, cfg.Log.AccessLogQuery)
	}
	if got := cfg.Routes[0].Upstream.IdleConnTimeout.String(); got != "5s" {
		t.Errorf("Parse(every key) route[0] idle_conn_timeout = %s, want 5s", got)
	}
}

// TestSyntaxErrorExact covers bytes TOML allows nowhere, each of which once
// crashed Parse, put the error on the wrong line, or broke it over two lines.
func TestSyntaxErrorExact(t *testing.T) {
	const (
		control = ` is not allowed; only tab, LF and CRLF are`
		lone    = `line 1: carriage return '\r' without a line feed after it; end lines with LF or CRLF`
		nesting = ": more than 32 arrays, inline tables and dotted key parts nested; no ferrum setting is nested that deep"
	)
	tests := []struct {
		name, file, want string
	}{
		{"control first", "\x01", `line 1: control character '\x01'` + control},
		{"carriage return only", "\r", lone},
		{"delete first", "\x7f", `line 1: control character '\x7f'` + control},
		{"form feed before a table", "\x0c[server]\n", `line 1: control character '\x0c'` + control},
		{"control at start of line 2", "a = 1\n\x01", `line 2: control character '\x01'` + control},
		{"control after CRLF lines", "[server]\r\nlisten = \":1\"\r\n\x1b", `line 3: control character '\x1b'` + control},
		{"control in a string", "[log]\nlevel = \"in\x08fo\"\n", `line 2: control character '\x08'` + control},
		{"control in a comment", "# a\n# b\x01\n", `line 2: control character '\x01'` + control},
		{"CR line endings", "[server]\rlisten = \":1\"\r", lone},
		{"CR before LF elsewhere", "a = 1\r\n\r\r\n", `line 2: carriage return '\r' without a line feed after it; end lines with LF or CRLF`},
		{"NUL late", "a = 1\n\nb = \x00", `line 3: NUL byte '\x00' is not allowed; if the file is UTF-16, save it as UTF-8`},
		{"UTF-16 with BOM", "\xff\xfe[\x00s\x00", "line 1: the file is UTF-16; save it as UTF-8"},
		{"UTF-16 without BOM", "[\x00s\x00", `line 1: NUL byte '\x00' is not allowed; if the file is UTF-16, save it as UTF-8`},
		{"invalid UTF-8", "[log]\nlevel = \"\xc3\x28\"\n", `line 2: invalid UTF-8 byte '\xc3'; save the file as UTF-8`},
		{"BOM then control", "\ufeff\x01", `line 1: control character '\x01'` + control},
		{"BOM then bad table", "\ufeffa = 1\n[b\n", "line 2: expected '.' or ']' to end table name, but got '\\n' instead"},
		{"nested arrays", "a = 1\nb = " + strings.Repeat("[", 100_000), "line 2" + nesting},
		{"nested inline tables", "a = " + strings.Repeat("{a = ", 40) + "1" + strings.Repeat("}", 40), "line 1" + nesting},
		{"dotted key", strings.Repeat("a.", 33) + "b = 1", "line 1" + nesting},
		{"table header", "\n\n[" + strings.Repeat("a.", 33) + "b]", "line 3" + nesting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(tt.file), nil)
			want := "ferrum.toml: " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("Parse(%s) error = %q, want %q", tt.name, err, want)
			}
		})
	}
}

// TestOneLine wants text from the file escaped in every message, whoever
// wrote the message.
func TestOneLine(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"newline after 0x", "[server]\nmax_header_bytes = 0x\n", `ferrum.toml: line 2: not a hexadecimal number: '0x\n'`},
		{"CRLF after 0o", "a = 0o\r\n", `ferrum.toml: line 1: not an octal number: '0o\r'`},
		{"newline in a duplicate key", "\"a\\nb\" = 1\n\"a\\nb\" = 2\n", `ferrum.toml: line 2: Key '"a\nb"' has already been defined.`},
		{"newline in a key", oneRoute + "[server]\n\"a\\rb\" = 1\n", `ferrum.toml: server."a\rb": unknown key`},
		{"newline in a value", oneRoute + "[log]\nformat = \"te\\nxt\"\n", `ferrum.toml: log.format: "te\nxt" is not one of text, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(tt.file), nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%s) error = %q, want %q", tt.name, err, tt.want)
			}
		})
	}

	p := Problem{File: "dir\n/ferrum.toml", Key: "k", Msg: "a\rb\x00c\xffd\u2028e\tf"}
	if got, want := p.Error(), `dir\n/ferrum.toml: k: a\rb\x00c\xffd\u2028e\tf`; got != want {
		t.Errorf("Problem.Error() = %q, want %q", got, want)
	}
	if got := oneLine("plain ütf-8 \ufffd"); got != "plain ütf-8 \ufffd" {
		t.Errorf("oneLine(printable) = %q, want it unchanged", got)
	}
}

// TestNestingAllowed wants the nesting limit to count only what the decoder
// nests: strings, comments, floats and table headers do not add to it.
func TestNestingAllowed(t *testing.T) {
	deep := strings.Repeat("[", 16) + strings.Repeat("]", 16)
	file := oneRoute + `
# a comment with [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ and ........................................
[route.health]
endpoint = "/a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h[[[[[[[[[[[[[[[[[[[["
` + "\"q.u.o.t.e.d.......................................\" = '''\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[''''\n" +
		"[route.retry]\nx = [" + strings.Repeat("1.5, ", 40) + "]\ny = " + deep + "\nz = \"\"\"a\\\"\"\"\n{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n\"\"\"\n"
	_, err := Parse("ferrum.toml", []byte(file), nil)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse(nesting) error = %v, want Problems", err)
	}
	want := []string{`route[0].health."q.u.o.t.e.d......................................."`, "route[0].retry.x", "route[0].retry.y", "route[0].retry.z"}
	if len(ps) != len(want) {
		t.Fatalf("Parse(nesting) error =\n%v\nwant unknown keys %v", err, want)
	}
	for i, p := range ps {
		if p.Key != want[i] || p.Msg != "unknown key" {
			t.Errorf("Parse(nesting) problem %d = %v, want %s: unknown key", i, p, want[i])
		}
	}
}

// TestParseRecovers wants a panic inside Parse, here one in the caller's
// getenv, turned into a Problem naming the file.
func TestParseRecovers(t *testing.T) {
	getenv := func(string) string { panic("boom\nagain") }
	cfg, err := Parse("ferrum.toml", []byte(oneRoute), getenv)
	want := `ferrum.toml: could not be parsed: internal error in ferrum: boom\nagain`
	if cfg != nil || err == nil || err.Error() != want {
		t.Errorf("Parse(panicking getenv) = %v, %q, want nil, %q", cfg, err, want)
	}
}

// FuzzParse feeds Parse arbitrary bytes. Whatever they are, it must return
// a Config with routes or Problems, each on one line, starting with the file
// name, and a syntax error must name a line of the file.
func FuzzParse(f *testing.F) {
	shipped, err := os.ReadFile("../ferrum.toml")
	if err != nil {
		f.Fatalf("read the shipped config: %v", err)
	}
	seeds := []string{
		// Once crashed Parse or misplaced the error.
		"\x01", "\r", "\x7f", "\x0c[server]\n", "a = 1\n\x01", "\"a\\nb\" = 1\n\"a\\nb\" = 2\n",
		// Valid files.
		string(shipped), everyKey, oneRoute,
		// Nasty bytes.
		"", "\x00", "[server]\x00\n", "a = \"\x00\"", oneRoute + "\x00",
		strings.ReplaceAll(everyKey, "\n", "\r"), strings.ReplaceAll(everyKey, "\n", "\r\n"),
		"\ufeff" + oneRoute, "\ufeff\ufeff" + oneRoute, "\xff\xfe", "\xfe\xff\x00[", "\xef\xbb",
		"a = \"\xff\"", "[\xc0\xaf]", oneRoute + "# \xed\xa0\x80\n", "path_prefix = \"/\u0085\u2028\"\n",
		// Deep nesting, at and just past the limit.
		"a = " + strings.Repeat("[", 32) + strings.Repeat("]", 32),
		"a = " + strings.Repeat("[", 33) + strings.Repeat("]", 33),
		"a = " + strings.Repeat("{b = ", 40) + "1" + strings.Repeat("}", 40),
		strings.Repeat("a.", 40) + "b = 1", "[" + strings.Repeat("a.", 40) + "b]",
		strings.Repeat("[[route]]\n", 200), "route = [" + strings.Repeat("{},", 100) + "]",
		// Huge numbers.
		"[server]\nmax_header_bytes = 9223372036854775807\n" + oneRoute,
		"[server]\nmax_header_bytes = -9223372036854775808\n" + oneRoute,
		"[server]\nclient_body_min_rate = 99999999999999999999\n" + oneRoute,
		"[health]\ninterval = \"9999999999999h\"\n" + oneRoute,
		"[retry]\nretry_on_status = [1e309, -0.0, nan, inf]\n" + oneRoute,
		backends(`{ url = "http://h:1", weight = 9223372036854775807 }`),
		backends(`"http://h:99999999999999999999"`),
		// Strings, keys and URLs that stretch the rules.
		"a = \"\"\"\"\"\"\"\"", "a = '''''''''", "a = \"\"\"\\\n\"\"\"",
		route("/a\\u0000b", "") + route("/a\\nb", ""),
		backends(`"http://[fe80::1%25\n]:1"`), backends(`"http://h:1/\r\n"`),
		oneRoute + "[route.upstream]\nidle_conn_timeout = \"0s\"\n[route.health]\n\"\\n\" = 1\n",
		"route = 1", "route = []", "[route]", "[[route.backends]]\nurl = 1",
		"a = 1979-05-27T07:32:00Z\nb = 07:32:00\n", "a = {}\na.b = 1",
		"a = 0x\n", "a = 0b\r\n", "a = 0o\n\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("ferrum.toml", data, nil)
		if err == nil {
			if cfg == nil {
				t.Fatalf("Parse(%q) = nil, nil", data)
			}
			if bad := invalidity(cfg); bad != "" {
				t.Errorf("Parse(%q) accepted a config where %s", data, bad)
			}
			_ = cfg.RouteTable()
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Parse(%q) error = %#v, want Problems", data, err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range ps {
			msg := p.Error()
			switch {
			case strings.HasPrefix(p.Msg, unparsable):
				t.Errorf("Parse(%q) = %s; again without recovering:", data, msg)
				_, _ = parse("ferrum.toml", data, nil) // panics with the stack
			case strings.ContainsAny(msg, "\r\n"):
				t.Errorf("Parse(%q) problem %q spans lines", data, msg)
			case !strings.HasPrefix(msg, "ferrum.toml: "):
				t.Errorf("Parse(%q) problem %q does not start with the file name", data, msg)
			case p.Key == "":
				n, ok := syntaxLine(p.Msg)
				if !ok || n < 1 || n > lines+1 {
					t.Errorf("Parse(%q) syntax problem %q, want line 1..%d", data, msg, lines+1)
				}
			}
		}
		if _, again := Parse("ferrum.toml", data, nil); again == nil || again.Error() != err.Error() {
			t.Errorf("Parse(%q) twice = %q, then %q, want the same", data, err, again)
		}
	})
}

// syntaxLine reads N from a syntax problem's message "line N: ...".
func syntaxLine(msg string) (int, bool) {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// invalidity names the first rule of the contract a parsed config breaks, or
// returns "" when it keeps them all.
func invalidity(cfg *Config) string {
	if len(cfg.Routes) == 0 {
		return "there is no route"
	}
	if cfg.Server.ClientBodyMinRate < 0 || cfg.Server.MaxHeaderBytes < 1 || cfg.Server.IdleTimeout <= 0 {
		return "a [server] limit is out of range"
	}
	prefixes := map[string]bool{}
	for i, r := range cfg.Routes {
		if !strings.HasPrefix(r.PathPrefix, "/") || prefixes[r.PathPrefix] || len(r.Backends) == 0 {
			return fmt.Sprintf("route[%d] has prefix %q and %d backends", i, r.PathPrefix, len(r.Backends))
		}
		prefixes[r.PathPrefix] = true
		urls := map[string]bool{}
		for _, b := range r.Backends {
			if !strings.HasPrefix(b.URL, "http://") || urls[b.URL] || b.Weight < 1 || b.Weight > 100 {
				return fmt.Sprintf("route[%d] has backend %+v", i, b)
			}
			urls[b.URL] = true
		}
		h, u, rt := r.Health, r.Upstream, r.Retry
		switch {
		case h.MaxEjectionDuration < h.EjectionDuration || h.Interval <= 0 || h.Timeout <= 0:
			return fmt.Sprintf("route[%d] has health %+v", i, h)
		case h.SuccessStatus.Min < 100 || h.SuccessStatus.Min > h.SuccessStatus.Max || h.SuccessStatus.Max > 599:
			return fmt.Sprintf("route[%d] has success_status %+v", i, h.SuccessStatus)
		case u.ConnectTimeout <= 0 || u.ReadTimeout <= 0 || u.IdleConnTimeout <= 0 || u.MaxIdleConnsPerBackend < 1:
			return fmt.Sprintf("route[%d] has upstream %+v", i, u)
		case rt.MaxAttempts < 1 || rt.TotalTimeout <= 0 || rt.BudgetPercent < 0 || rt.BudgetPercent > 100:
			return fmt.Sprintf("route[%d] has retry %+v", i, rt)
		case r.ClientBodyTimeout <= 0:
			return fmt.Sprintf("route[%d] has client_body_timeout %v", i, r.ClientBodyTimeout)
		}
	}
	return ""
}
