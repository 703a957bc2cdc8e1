package proxyconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// route returns a [[route]] table with a valid prefix and backend plus extra lines.
func route(prefix, extra string) string {
	return "\n[[route]]\npath_prefix = \"" + prefix + "\"\nbackends = [\"http://127.0.0.1:3001\"]\n" + extra + "\n"
}

// TestParseRejects runs one bad file per case and wants a problem on the
// right key whose message says the right thing.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, file, key, msg string
	}{
		{"unknown top-level table", "[sever]\nlisten = \":80\"\n", "sever", "unknown key"},
		{"unknown server key", "[server]\nlisten_addr = \":80\"\n", "server.listen_addr", "unknown key"},
		{"unknown key in second route", route("/a", "") + route("/b", "helth = 1"), "route[1].helth", "unknown key"},
		{"unknown route table", route("/a", "") + route("/b", "[route.helth]\ninterval = \"1s\""), "route[1].helth", "unknown key"},
		{"unknown route health key", route("/a", "[route.health]\nintervl = \"1s\""), "route[0].health.intervl", "unknown key"},
		{"unknown key in later route.retry", route("/a", "") + route("/b", "[route.retry]\nmax_atempts = 1"), "route[1].retry.max_atempts", "unknown key"},
		{"unknown backend table key", backends(`"http://127.0.0.1:1", { url = "http://127.0.0.1:2", wieght = 2 }`), "route[0].backends[1].wieght", "unknown key"},
		{"quoted unknown key", "[server]\n\"a.b\" = 1\n", `server."a.b"`, "unknown key"},
		{"section not a table", "server = 1\n", "server", "must be a table"},
		{"unknown key in inline route", "route = [{ path_prefix = \"/a\", backends = [\"http://a:1\"] }, { path_prefix = \"/b\", backends = [\"http://b:1\"], helth = 1 }]\n", "route[1].helth", "unknown key"},
		{"route entry not a table", "route = [1]\n", "route[0]", "must be a table"},
		{"route not an array", "[route]\npath_prefix = \"/\"\n", "route", "[[route]]"},

		{"duration without unit", "[health]\ninterval = \"10\"\n", "health.interval", "not a duration"},
		{"duration garbage", "[health]\ninterval = \"abc\"\n", "health.interval", "not a duration"},
		{"duration as integer", "[health]\ninterval = 10\n", "health.interval", "must be a duration string"},
		{"negative duration", "[upstream]\nread_timeout = \"-1s\"\n", "upstream.read_timeout", "negative"},
		{"negative shutdown_delay", "[server]\nshutdown_delay = \"-1s\"\n", "server.shutdown_delay", "negative"},
		{"negative slow_start", "[health]\nslow_start = \"-1s\"\n", "health.slow_start", "negative"},
		{"zero duration", "[retry]\nbackoff = \"0s\"\n", "retry.backoff", "longer than 0"},
		{"zero idle_timeout", "[server]\nidle_timeout = \"0\"\n", "server.idle_timeout", "longer than 0"},
		{"zero route client_body_timeout", route("/a", `client_body_timeout = "0s"`), "route[0].client_body_timeout", "longer than 0"},
		{"max ejection below ejection", "[health]\nejection_duration = \"1m\"\nmax_ejection_duration = \"30s\"\n", "health.max_ejection_duration", "shorter than ejection_duration"},
		{"ejection above default max", "[health]\nejection_duration = \"10m\"\n", "health.ejection_duration", "longer than max_ejection_duration"},
		{"route max ejection below inherited", route("/a", "[route.health]\nmax_ejection_duration = \"10s\""), "route[0].health.max_ejection_duration", "shorter than ejection_duration 30s"},
		{"route ejection above inherited max", "[health]\nmax_ejection_duration = \"1m\"\n" + route("/a", "[route.health]\nejection_duration = \"2m\""), "route[0].health.ejection_duration", "longer than max_ejection_duration 1m0s"},

		{"max_header_bytes zero", "[server]\nmax_header_bytes = 0\n", "server.max_header_bytes", "at least 1"},
		{"max_request_body_bytes zero", "[upstream]\nmax_request_body_bytes = 0\n", "upstream.max_request_body_bytes", "at least 1"},
		{"max_response_body_bytes negative", "[upstream]\nmax_response_body_bytes = -1\n", "upstream.max_response_body_bytes", "at least 1"},
		{"max_idle_conns_per_backend zero", "[upstream]\nmax_idle_conns_per_backend = 0\n", "upstream.max_idle_conns_per_backend", "at least 1"},
		{"failure_threshold zero", "[health]\nfailure_threshold = 0\n", "health.failure_threshold", "at least 1"},
		{"recovery_threshold zero", "[health]\nrecovery_threshold = 0\n", "health.recovery_threshold", "at least 1"},
		{"max_attempts zero", "[retry]\nmax_attempts = 0\n", "retry.max_attempts", "at least 1"},
		{"max_attempts float", "[retry]\nmax_attempts = 2.5\n", "retry.max_attempts", "must be an integer, not the float 2.5"},
		{"max_attempts string", "[retry]\nmax_attempts = \"2\"\n", "retry.max_attempts", "must be an integer"},
		{"max_buffered_body_bytes negative", "[retry]\nmax_buffered_body_bytes = -1\n", "retry.max_buffered_body_bytes", "at least 0"},
		{"min_retry_concurrency negative", "[retry]\nmin_retry_concurrency = -1\n", "retry.min_retry_concurrency", "at least 0"},
		{"budget_percent over 100", "[retry]\nbudget_percent = 101\n", "retry.budget_percent", "between 0 and 100"},
		{"max_ejected_percent negative", "[health]\nmax_ejected_percent = -1\n", "health.max_ejected_percent", "between 0 and 100"},
		{"route retry max_attempts zero", route("/a", "[route.retry]\nmax_attempts = 0"), "route[0].retry.max_attempts", "at least 1"},
		{"route upstream bad duration", route("/a", "[route.upstream]\nconnect_timeout = \"fast\""), "route[0].upstream.connect_timeout", "not a duration"},
		{"route health not a table", route("/a", "health = 5"), "route[0].health", "must be a table"},
		{"bool as string", "[log]\naccess_log = \"yes\"\n", "log.access_log", "true or false"},
		{"access_log_query as string", "[log]\naccess_log_query = \"no\"\n", "log.access_log_query", "true or false"},
		{"client_body_min_rate negative", "[server]\nclient_body_min_rate = -1\n", "server.client_body_min_rate", "at least 0, not -1"},
		{"client_body_min_rate as string", "[server]\nclient_body_min_rate = \"240\"\n", "server.client_body_min_rate", "must be an integer"},
		{"client_body_min_rate in a route", route("/a", "client_body_min_rate = 100"), "route[0].client_body_min_rate", "unknown key"},
		{"idle_conn_timeout zero", "[upstream]\nidle_conn_timeout = \"0s\"\n", "upstream.idle_conn_timeout", "longer than 0"},
		{"idle_conn_timeout negative", "[upstream]\nidle_conn_timeout = \"-1m\"\n", "upstream.idle_conn_timeout", "negative"},
		{"route idle_conn_timeout garbage", route("/a", "[route.upstream]\nidle_conn_timeout = \"soon\""), "route[0].upstream.idle_conn_timeout", "not a duration"},

		{"inverted status range", "[health]\nsuccess_status = [399, 200]\n", "health.success_status", "inverted"},
		{"one status", "[health]\nsuccess_status = [200]\n", "health.success_status", "two status codes"},
		{"three statuses", "[health]\npassive_failure_status = [500, 501, 599]\n", "health.passive_failure_status", "two status codes"},
		{"status strings", "[health]\nsuccess_status = [\"200\", \"399\"]\n", "health.success_status", "two status codes"},
		{"status below 100", "[health]\nsuccess_status = [99, 200]\n", "health.success_status", "outside 100..599"},
		{"status above 599", "[health]\npassive_failure_status = [500, 600]\n", "health.passive_failure_status", "outside 100..599"},
		{"route inverted status range", route("/a", "[route.health]\npassive_failure_status = [599, 500]"), "route[0].health.passive_failure_status", "inverted"},
		{"retry status out of range", "[retry]\nretry_on_status = [502, 700]\n", "retry.retry_on_status[1]", "not a status code"},
		{"retry status not a number", "[retry]\nretry_on_status = [\"502\"]\n", "retry.retry_on_status[0]", "must be a status code"},
		{"retry statuses not an array", "[retry]\nretry_on_status = 502\n", "retry.retry_on_status", "must be an array"},

		{"listen without port", "[server]\nlisten = \"8080\"\n", "server.listen", "not host:port"},
		{"listen empty", "[server]\nlisten = \"\"\n", "server.listen", "not host:port"},
		{"listen named port", "[server]\nlisten = \"localhost:http\"\n", "server.listen", "not a number"},
		{"listen port too big", "[server]\nlisten = \":70000\"\n", "server.listen", "not a number in 0..65535"},
		{"debug listen bad", "[debug]\nlisten = \"nope\"\n", "debug.listen", "not host:port"},
		{"debug listen same as server", "[debug]\nlisten = \"0.0.0.0:8080\"\n", "debug.listen", "clashes with server.listen"},
		{"debug listen inside server wildcard", "[server]\nlisten = \":9000\"\n[debug]\nlisten = \"127.0.0.1:9000\"\n", "debug.listen", "clashes"},
		{"trusted proxy bogus", "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.1\", \"bogus\"]\n", "server.trusted_proxies[2]", `"bogus" is neither an IP nor a CIDR`},
		{"trusted proxy bad mask", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "server.trusted_proxies[0]", "not a CIDR"},
		{"trusted proxy with zone", "[server]\ntrusted_proxies = [\"fe80::1%eth0\"]\n", "server.trusted_proxies[0]", "IPv6 zone"},
		{"trusted proxy not a string", "[server]\ntrusted_proxies = [10]\n", "server.trusted_proxies[0]", "must be a string"},
		{"trusted proxies not an array", "[server]\ntrusted_proxies = \"10.0.0.0/8\"\n", "server.trusted_proxies", "must be an array"},
		{"blank auth token", "[debug]\nauth_token = \" \\t \"\n", "debug.auth_token", "only white space"},
		{"log level", "[log]\nlevel = \"verbose\"\n", "log.level", "not one of debug, info, warn, error"},
		{"log level case", "[log]\nlevel = \"INFO\"\n", "log.level", "not one of"},
		{"log format", "[log]\nformat = \"xml\"\n", "log.format", "not one of text, json"},
		{"health endpoint with space", "[health]\nendpoint = \"/he alth\"\n", "health.endpoint", "white space"},
		{"listen host with space", "[server]\nlisten = \"a b:80\"\n", "server.listen", "white space"},
		{"health endpoint relative", "[health]\nendpoint = \"health\"\n", "health.endpoint", "must start with"},

		{"missing path_prefix", "[[route]]\nbackends = [\"http://127.0.0.1:1\"]\n", "route[0].path_prefix", "is required"},
		{"missing backends", "[[route]]\npath_prefix = \"/\"\n", "route[0].backends", "is required"},
		{"prefix without slash", route("api", ""), "route[0].path_prefix", `must start with "/"`},
		{"prefix with query", route("/api?x=1", ""), "route[0].path_prefix", `"?" or "#"`},
		{"prefix with fragment", route("/api#x", ""), "route[0].path_prefix", `"?" or "#"`},
		{"prefix with space", route("/a b", ""), "route[0].path_prefix", "white space"},
		{"prefix with tab", route(`/a\tb`, ""), "route[0].path_prefix", "white space"},
		{"prefix with double slash", route("/a//b", ""), "route[0].path_prefix", `"//"`},
		{"prefix with dot-dot", route("/a/../b", ""), "route[0].path_prefix", "dot segment"},
		{"prefix ending in dot-dot", route("/api/..", ""), "route[0].path_prefix", "dot segment"},
		{"prefix with dot", route("/a/./b", ""), "route[0].path_prefix", "dot segment"},
		{"prefix with encoded dot-dot", route("/a/%2E%2e/b", ""), "route[0].path_prefix", "dot segment"},
		{"prefix not a string", "[[route]]\npath_prefix = 1\nbackends = [\"http://127.0.0.1:1\"]\n", "route[0].path_prefix", "must be a string"},
		{"duplicate prefix", route("/api", "") + route("/web", "") + route("/api/", ""), "route[2].path_prefix", `"/api" is already route[0]'s prefix`},

		{"https backend", "[[route]]\npath_prefix = \"/\"\nbackends = [\"https://127.0.0.1:3001\"]\n", "route[0].backends[0]", "https is not supported; terminate TLS in front of ferrum"},
		{"https backend in table", "[[route]]\npath_prefix = \"/\"\nbackends = [{ url = \"HTTPS://h\" }]\n", "route[0].backends[0].url", "https is not supported"},
		{"no backends", "[[route]]\npath_prefix = \"/\"\nbackends = []\n", "route[0].backends", "at least one backend"},
		{"backends a string", "[[route]]\npath_prefix = \"/\"\nbackends = \"http://127.0.0.1:1\"\n", "route[0].backends", "must be an array"},
		{"backend a number", "[[route]]\npath_prefix = \"/\"\nbackends = [42]\n", "route[0].backends[0]", "must be a URL or a table"},
		{"backend table without url", "[[route]]\npath_prefix = \"/\"\nbackends = [{ weight = 2 }]\n", "route[0].backends[0].url", "is required"},
		{"backend ftp", backends(`"ftp://h"`), "route[0].backends[0]", `scheme "ftp" is not supported`},
		{"backend without scheme", backends(`"127.0.0.1:3001"`), "route[0].backends[0]", "must start with http://"},
		{"backend empty scheme", backends(`"://h:1"`), "route[0].backends[0]", "not a URL"},
		{"backend host only", backends(`"localhost"`), "route[0].backends[0]", "must start with http://"},
		{"backend user info", backends(`"http://u:p@h:1"`), "route[0].backends[0]", "user info"},
		{"backend path", backends(`"http://h:1/api"`), "route[0].backends[0]", "has a path"},
		{"backend two slashes", backends(`"http://h:1//"`), "route[0].backends[0]", "has a path"},
		{"backend query", backends(`"http://h:1/?a=b"`), "route[0].backends[0]", "query"},
		{"backend empty query", backends(`"http://h:1?"`), "route[0].backends[0]", "query"},
		{"backend fragment", backends(`"http://h:1#top"`), "route[0].backends[0]", "fragment"},
		{"backend no host", backends(`"http://"`), "route[0].backends[0]", "no host"},
		{"backend port only", backends(`"http://:8080"`), "route[0].backends[0]", "no host"},
		{"backend port zero", backends(`"http://h:0"`), "route[0].backends[0]", "not in 1..65535"},
		{"backend port too big", backends(`"http://h:65536"`), "route[0].backends[0]", "not in 1..65535"},
		{"backend empty port", backends(`"http://h:"`), "route[0].backends[0]", "empty port"},
		{"backend port not numeric", backends(`"http://h:x"`), "route[0].backends[0]", "not a URL"},
		{"duplicate backend", backends(`"http://127.0.0.1:3001", "http://127.0.0.1:3001/"`), "route[0].backends[1]", "http://127.0.0.1:3001 is already backends[0]"},
		{"duplicate backend by default port", backends(`"http://LocalHost", { url = "http://localhost:80" }`), "route[0].backends[1]", "is already backends[0]"},
		{"weight zero", backends(`{ url = "http://h:1", weight = 0 }`), "route[0].backends[0].weight", "between 1 and 100"},
		{"weight too big", backends(`"http://h:2", { url = "http://h:1", weight = 101 }`), "route[0].backends[1].weight", "between 1 and 100"},

		{"unknown balancing", route("/a", `balancing = "random"`), "route[0].balancing", "not one of round_robin"},
		{"hash_key without consistent_hash", route("/a", `hash_key = "header:X-User"`), "route[0].hash_key", `needs balancing = "consistent_hash"`},
		{"hash_key with least_requests", route("/a", "balancing = \"least_requests\"\nhash_key = \"client_ip\""), "route[0].hash_key", `needs balancing = "consistent_hash"`},
		{"hash_key unknown source", route("/a", "balancing = \"consistent_hash\"\nhash_key = \"body:x\""), "route[0].hash_key", "not one of client_ip"},
		{"hash_key without name", route("/a", "balancing = \"consistent_hash\"\nhash_key = \"header:\""), "route[0].hash_key", "needs a name"},
		{"hash_key name with space", route("/a", "balancing = \"consistent_hash\"\nhash_key = \"query:user id\""), "route[0].hash_key", "white space"},
		{"hash_key bad header name", route("/a", "balancing = \"consistent_hash\"\nhash_key = \"header:X(User)\""), "route[0].hash_key", "not a valid header name"},
		{"hash_key client_ip with name", route("/a", "balancing = \"consistent_hash\"\nhash_key = \"client_ip:x\""), "route[0].hash_key", "not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(tt.file), nil)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse(%s) error = %v, want Problems", tt.name, err)
			}
			for _, p := range ps {
				if p.Key == tt.key && strings.Contains(p.Msg, tt.msg) {
					if p.File != "ferrum.toml" {
						t.Errorf("Parse(%s) problem file = %q, want ferrum.toml", tt.name, p.File)
					}
					return
				}
			}
			t.Errorf("Parse(%s) error = %q, want it to name %s with %q", tt.name, err, tt.key, tt.msg)
		})
	}
}

// backends returns a route whose backends array holds entries.
func backends(entries string) string {
	return "[[route]]\npath_prefix = \"/\"\nbackends = [" + entries + "]\n"
}

// TestParseReportsEveryProblem wants all problems of a file, one a line, the
// sections in file order.
func TestParseReportsEveryProblem(t *testing.T) {
	file := `
[[route]]
path_prefix = "api"
backends = ["https://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 0 }]

[[route]]
path_prefix = "/static"
backends = ["http://127.0.0.1:4000"]
helth = {}

[server]
listen = "8080"

[health]
intervl = "5s"
`
	_, err := Parse("ferrum.toml", []byte(file), nil)
	want := `ferrum.toml: route[0].path_prefix: "api" must start with "/"
ferrum.toml: route[0].backends[0]: https is not supported; terminate TLS in front of ferrum
ferrum.toml: route[0].backends[1].weight: must be between 1 and 100, not 0
ferrum.toml: route[1].helth: unknown key
ferrum.toml: server.listen: "8080" is not host:port; write it like "0.0.0.0:8080" or ":8080"
ferrum.toml: health.intervl: unknown key`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(several problems) error =\n%v\nwant\n%s", err, want)
	}
}

func TestSyntaxError(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unclosed array table", "[server]\nlisten = \":8080\"\nidle_timeout = \"1s\"\n\n[[route]\npath_prefix = \"/\"\n", "ferrum.toml: line 5: "},
		{"unclosed table", "a = 1\n[b\n", "ferrum.toml: line 2: "},
		{"missing value", "[server]\nlisten =\n", "ferrum.toml: line 2: "},
		{"duplicate key", "[server]\nlisten = \":1\"\nlisten = \":2\"\n", "ferrum.toml: line 3: "},
		{"unterminated string", "[server]\n\nlisten = \":1\n", "ferrum.toml: line 3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(tt.file), nil)
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != "" {
				t.Fatalf("Parse(%s) error = %v, want one Problem without a key", tt.name, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse(%s) error = %q, want it to start with %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestDebugToken(t *testing.T) {
	tests := []struct {
		name, file, env string
		want            string
		problem         string // key of the expected problem, empty for none
	}{
		{name: "file only", file: "[debug]\nauth_token = \"a\"\n" + oneRoute, want: "a"},
		{name: "env overrides", file: "[debug]\nauth_token = \"a\"\n" + oneRoute, env: "b", want: "b"},
		{name: "env alone", file: oneRoute, env: "b", want: "b"},
		{name: "empty env ignored", file: "[debug]\nauth_token = \"a\"\n" + oneRoute, env: "", want: "a"},
		{name: "blank env", file: "[debug]\nauth_token = \"a\"\n", env: "  ", problem: "FERRUM_DEBUG_TOKEN"},
		{name: "blank file", file: "[debug]\nauth_token = \"  \"\n", env: "b", problem: "debug.auth_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "FERRUM_DEBUG_TOKEN" {
					return tt.env
				}
				return ""
			}
			cfg, err := Parse("ferrum.toml", []byte(tt.file), getenv)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem+": ") {
					t.Errorf("Parse(%s) error = %v, want it to name %s", tt.name, err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error = %q, want none", tt.name, err)
			}
			if cfg.Debug.AuthToken != tt.want {
				t.Errorf("Parse(%s) auth token = %q, want %q", tt.name, cfg.Debug.AuthToken, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "ferrum.toml")
	_, err := Load(missing)
	wantPrefix := "read config " + missing + ": open " + missing + ": "
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("Load(missing) error = %v, want %q... wrapping fs.ErrNotExist", err, wantPrefix)
	}

	path := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(path, []byte("[debug]\nauth_token = \"file\"\n"+oneRoute), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FERRUM_DEBUG_TOKEN", "env")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(good) error = %q, want none", err)
	}
	if cfg.File != path || cfg.Debug.AuthToken != "env" {
		t.Errorf("Load(good) = file %q token %q, want file %q token from FERRUM_DEBUG_TOKEN", cfg.File, cfg.Debug.AuthToken, path)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[sever]\n"+oneRoute), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+": sever: unknown key" {
		t.Errorf("Load(bad) error = %v, want %q", err, bad+": sever: unknown key")
	}
}

// TestOneProblemEach wants a single mistake reported once, not again by every
// route that inherits it or by a check that depends on it.
func TestOneProblemEach(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"bad listen and debug listen", "[server]\nlisten = \"8080\"\n[debug]\nlisten = \":8080\"\n" + oneRoute, "server.listen"},
		{"inherited bad value", "[health]\ninterval = \"-1s\"\n" + route("/a", "") + route("/b", "[route.health]\ntimeout = \"1s\""), "health.interval"},
		{"inherited ejection clash", "[health]\nejection_duration = \"10m\"\n" + route("/a", "[route.health]\ninterval = \"1s\""), "health.ejection_duration"},
		{"bad hash_key with bad balancing", route("/a", "balancing = \"hash\"\nhash_key = \"client_ip\""), "route[0].balancing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ferrum.toml", []byte(tt.file), nil)
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != tt.want {
				t.Errorf("Parse(%s) error = %q, want exactly one problem, on %s", tt.name, err, tt.want)
			}
		})
	}
}

// TestProblemOrderQuotedKeys wants a quoted top-level key ranked where it
// stands in the file, like a bare one, and the missing routes last.
func TestProblemOrderQuotedKeys(t *testing.T) {
	file := "\"a.b\" = 1\n\"\\n\" = 2\n[server]\nx = 1\n[\"c[0]\"]\n"
	want := `ferrum.toml: "a.b": unknown key
ferrum.toml: "\n": unknown key
ferrum.toml: server.x: unknown key
ferrum.toml: "c[0]": unknown key
ferrum.toml: route: no [[route]] defined; add at least one [[route]] with path_prefix and backends`
	_, err := Parse("ferrum.toml", []byte(file), nil)
	if err == nil || err.Error() != want {
		t.Errorf("Parse(quoted keys) error =\n%v\nwant\n%s", err, want)
	}
}
