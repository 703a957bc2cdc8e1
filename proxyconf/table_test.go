package proxyconf

import "testing"

func TestRouteTable(t *testing.T) {
	cfg := mustParse(t, `
[server]
listen = "0.0.0.0:8080"
[debug]
listen = "127.0.0.1:9090"

[[route]]
path_prefix = "/api/"
backends = ["http://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 3 }, "http://localhost:3003"]
balancing = "consistent_hash"
hash_key = "header:x-user-id"
strip_prefix = true

[[route]]
path_prefix = "/"
backends = ["http://127.0.0.1:4000"]
preserve_host = false
`)
	want := `listen           0.0.0.0:8080
debug listen     127.0.0.1:9090

route /api
  balancing      consistent_hash by header:X-User-Id
  strip_prefix   true
  preserve_host  true
  backend        http://127.0.0.1:3001
  backend        http://127.0.0.1:3002  weight 3
  backend        http://localhost:3003

route /
  balancing      round_robin
  strip_prefix   false
  preserve_host  false
  backend        http://127.0.0.1:4000
`
	if got := cfg.RouteTable(); got != want {
		t.Errorf("RouteTable() =\n%s\nwant\n%s", got, want)
	}
	if again := cfg.RouteTable(); again != want {
		t.Errorf("RouteTable() second call differs:\n%s", again)
	}
}
