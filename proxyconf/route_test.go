package proxyconf

import (
	"reflect"
	"testing"
)

func TestBackends(t *testing.T) {
	tests := []struct {
		name, file string
		want       []Backend
	}{
		{
			name: "strings normalized",
			file: backends(`"HTTP://LocalHost:3001/", "http://127.0.0.1", "http://[::0001]:3003", "http://10.0.0.1:0080"`),
			want: []Backend{
				{URL: "http://localhost:3001", Host: "localhost:3001", Weight: 1},
				{URL: "http://127.0.0.1:80", Host: "127.0.0.1:80", Weight: 1},
				{URL: "http://[::1]:3003", Host: "[::1]:3003", Weight: 1},
				{URL: "http://10.0.0.1:80", Host: "10.0.0.1:80", Weight: 1},
			},
		},
		{
			name: "mixed strings and tables",
			file: backends(`"http://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 3 }, { url = "http://127.0.0.1:3003" }, { url = "http://127.0.0.1:3004", weight = 100 }`),
			want: []Backend{
				{URL: "http://127.0.0.1:3001", Host: "127.0.0.1:3001", Weight: 1},
				{URL: "http://127.0.0.1:3002", Host: "127.0.0.1:3002", Weight: 3},
				{URL: "http://127.0.0.1:3003", Host: "127.0.0.1:3003", Weight: 1},
				{URL: "http://127.0.0.1:3004", Host: "127.0.0.1:3004", Weight: 100},
			},
		},
		{
			name: "array of tables",
			file: "[[route]]\npath_prefix = \"/\"\n[[route.backends]]\nurl = \"http://a:1\"\nweight = 2\n[[route.backends]]\nurl = \"http://b:1\"\n",
			want: []Backend{
				{URL: "http://a:1", Host: "a:1", Weight: 2},
				{URL: "http://b:1", Host: "b:1", Weight: 1},
			},
		},
		{
			name: "ipv6 zone",
			file: backends(`"http://[fe80::1%25eth0]:8080"`),
			want: []Backend{{URL: "http://[fe80::1%25eth0]:8080", Host: "[fe80::1%eth0]:8080", Weight: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.file)
			if got := cfg.Routes[0].Backends; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%s) backends = %+v\nwant %+v", tt.name, got, tt.want)
			}
		})
	}
}

func TestPathPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/":           "/",
		"/api":        "/api",
		"/api/":       "/api",
		"/api/v1/":    "/api/v1",
		"/a.b/..c/.d": "/a.b/..c/.d",
		"/%2Fx":       "/%2Fx",
		"/café":       "/café",
	} {
		t.Run(in, func(t *testing.T) {
			cfg := mustParse(t, route(in, ""))
			if got := cfg.Routes[0].PathPrefix; got != want {
				t.Errorf("Parse(path_prefix %q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestRouteKeys(t *testing.T) {
	cfg := mustParse(t, route("/a", "balancing = \"first_healthy\"\nstrip_prefix = true\npreserve_host = false")+
		route("/b", "balancing = \"least_requests\"")+
		route("/c", "balancing = \"consistent_hash\"")+
		route("/d", "balancing = \"consistent_hash\"\nhash_key = \"cookie:session\""))
	tests := []struct {
		name      string
		got, want any
	}{
		{"/a balancing", cfg.Routes[0].Balancing, FirstHealthy},
		{"/a strip_prefix", cfg.Routes[0].StripPrefix, true},
		{"/a preserve_host", cfg.Routes[0].PreserveHost, false},
		{"/b balancing", cfg.Routes[1].Balancing, LeastRequests},
		{"/b preserve_host", cfg.Routes[1].PreserveHost, true},
		{"/c hash_key default", cfg.Routes[2].HashKey, HashKey{Source: HashClientIP}},
		{"/d hash_key", cfg.Routes[3].HashKey, HashKey{Source: HashCookie, Name: "session"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("Parse() %s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestParseHashKey(t *testing.T) {
	for in, want := range map[string]HashKey{
		"client_ip":          {Source: HashClientIP},
		"header:x-user-id":   {Source: HashHeader, Name: "X-User-Id"},
		"header:X-Tenant":    {Source: HashHeader, Name: "X-Tenant"},
		"cookie:session_id":  {Source: HashCookie, Name: "session_id"},
		"query:user":         {Source: HashQuery, Name: "user"},
		"query:filter[name]": {Source: HashQuery, Name: "filter[name]"},
	} {
		t.Run(in, func(t *testing.T) {
			got, err := parseHashKey(in)
			if err != nil || got != want {
				t.Errorf("parseHashKey(%q) = %+v, %v, want %+v", in, got, err, want)
			}
		})
	}
}
