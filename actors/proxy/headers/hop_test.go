package headers

import (
	"maps"
	"net/http"
	"slices"
	"testing"
)

func sameHeader(a, b http.Header) bool {
	return maps.EqualFunc(a, b, slices.Equal[[]string])
}

func TestRemoveHopByHop(t *testing.T) {
	tests := []struct {
		name    string
		in, out http.Header
	}{
		{
			name: "end-to-end headers untouched",
			in:   http.Header{"Accept": {"*/*"}, "Cookie": {"a=1"}, "X-Request-Id": {"abc"}},
			out:  http.Header{"Accept": {"*/*"}, "Cookie": {"a=1"}, "X-Request-Id": {"abc"}},
		},
		{
			name: "fixed list",
			in: http.Header{
				"Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"}, "Proxy-Connection": {"keep-alive"},
				"Proxy-Authenticate": {"Basic"}, "Proxy-Authorization": {"Basic eA=="}, "Trailer": {"X-Sum"},
				"Transfer-Encoding": {"chunked"}, "Upgrade": {"websocket"}, "Accept": {"*/*"},
			},
			out: http.Header{"Accept": {"*/*"}},
		},
		{
			name: "close, X-Foo names a header",
			in:   http.Header{"Connection": {"close, X-Foo"}, "X-Foo": {"1"}, "X-Bar": {"2"}},
			out:  http.Header{"X-Bar": {"2"}},
		},
		{
			name: "close names a Close header too",
			in:   http.Header{"Connection": {"close"}, "Close": {"x"}, "Accept": {"*/*"}},
			out:  http.Header{"Accept": {"*/*"}},
		},
		{
			name: "only fixed tokens",
			in:   http.Header{"Connection": {"Keep-Alive, UPGRADE, te"}, "Keep-Alive": {"5"}, "Upgrade": {"h2c"}, "Accept": {"*/*"}},
			out:  http.Header{"Accept": {"*/*"}},
		},
		{
			name: "Connection names TE without trailers",
			in:   http.Header{"Connection": {"te, x-foo"}, "Te": {"gzip"}, "X-Foo": {"1"}},
			out:  http.Header{},
		},
		{
			name: "several Connection lines",
			in:   http.Header{"Connection": {"X-A", "x-b ,\tX-C"}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"}, "X-D": {"4"}},
			out:  http.Header{"X-D": {"4"}},
		},
		{
			name: "tokens in any case, keys stored uncanonicalized",
			in:   http.Header{"Connection": {"X-FOO, x-bar"}, "X-Foo": {"1"}, "x-BAR": {"2"}, "X-Baz": {"3"}},
			out:  http.Header{"X-Baz": {"3"}},
		},
		{
			name: "empty elements and white space",
			in:   http.Header{"Connection": {" , ,X-Foo , "}, "X-Foo": {"1"}, "X-Keep": {"2"}},
			out:  http.Header{"X-Keep": {"2"}},
		},
		{
			name: "Connection naming an absent header",
			in:   http.Header{"Connection": {"X-Gone"}, "Accept": {"*/*"}},
			out:  http.Header{"Accept": {"*/*"}},
		},
		{
			name: "TE: trailers kept",
			in:   http.Header{"Te": {"trailers"}, "Accept": {"*/*"}},
			out:  http.Header{"Te": {"trailers"}, "Accept": {"*/*"}},
		},
		{
			name: "TE: trailers kept when Connection names TE",
			in:   http.Header{"Connection": {"TE"}, "Te": {"trailers"}},
			out:  http.Header{"Te": {"trailers"}},
		},
		{
			name: "TE: Trailers in another case becomes trailers",
			in:   http.Header{"Te": {"Trailers"}},
			out:  http.Header{"Te": {"trailers"}},
		},
		{
			name: "TE: gzip removed",
			in:   http.Header{"Te": {"gzip"}, "Accept": {"*/*"}},
			out:  http.Header{"Accept": {"*/*"}},
		},
		{
			name: "TE: gzip, trailers keeps trailers only",
			in:   http.Header{"Te": {"gzip;q=0.5", "trailers"}},
			out:  http.Header{"Te": {"trailers"}},
		},
		{
			name: "TE: trailerss is not trailers",
			in:   http.Header{"Te": {"trailerss"}},
			out:  http.Header{},
		},
		{
			name: "Connection naming a hop-by-hop header",
			in:   http.Header{"Connection": {"Upgrade, Keep-Alive"}, "Upgrade": {"websocket"}, "Keep-Alive": {"x"}},
			out:  http.Header{},
		},
		{
			name: "nil header",
			in:   nil,
			out:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.in.Clone()
			RemoveHopByHop(h)
			if !sameHeader(h, tt.out) {
				t.Errorf("RemoveHopByHop(%v) = %v, want %v", tt.in, h, tt.out)
			}
		})
	}
}

func TestUpgradeType(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want string
	}{
		{"websocket", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, "websocket"},
		{"token in a list, any case", http.Header{"Connection": {"keep-alive, UPGRADE"}, "Upgrade": {"websocket"}}, "websocket"},
		{"second Connection line", http.Header{"Connection": {"keep-alive", "upgrade"}, "Upgrade": {"h2c"}}, "h2c"},
		{"no Upgrade header", http.Header{"Connection": {"upgrade"}}, ""},
		{"empty Upgrade", http.Header{"Connection": {"upgrade"}, "Upgrade": {" "}}, ""},
		{"Connection does not name upgrade", http.Header{"Connection": {"keep-alive"}, "Upgrade": {"websocket"}}, ""},
		{"upgrade as part of a token", http.Header{"Connection": {"upgrades"}, "Upgrade": {"websocket"}}, ""},
		{"no Connection", http.Header{"Upgrade": {"websocket"}}, ""},
		{"empty", http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpgradeType(tt.in); got != tt.want {
				t.Errorf("UpgradeType(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func typicalRequest() http.Header {
	return http.Header{
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Encoding": {"gzip, deflate, br"},
		"Accept-Language": {"en-US,en;q=0.5"},
		"Cache-Control":   {"no-cache"},
		"Connection":      {"keep-alive"},
		"Cookie":          {"session=0123456789abcdef"},
		"Referer":         {"https://example.com/"},
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		"X-Request-Id":    {"4bf92f3577b34da6a3ce929d0e0e4736"},
		"Te":              {"trailers"},
	}
}

func TestRemoveHopByHopAllocs(t *testing.T) {
	clean := typicalRequest()
	delete(clean, "Connection")
	n := testing.AllocsPerRun(100, func() { RemoveHopByHop(clean) })
	if n != 0 {
		t.Errorf("RemoveHopByHop(clean request) allocs = %v, want 0", n)
	}
	// Deleting entries needs no allocation either.
	n = testing.AllocsPerRun(100, func() {
		clean["Connection"] = []string{"keep-alive, X-Foo"}
		clean["Keep-Alive"] = clean["Connection"]
		clean["x-foo"] = clean["Connection"]
		RemoveHopByHop(clean)
	})
	if n != 1 { // the one slice literal above
		t.Errorf("RemoveHopByHop(typical request) allocs = %v, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { UpgradeType(clean) }); n != 0 {
		t.Errorf("UpgradeType allocs = %v, want 0", n)
	}
}

func BenchmarkRemoveHopByHop(b *testing.B) {
	src := typicalRequest()
	conn := src["Connection"]
	h := src.Clone()
	b.ReportAllocs()
	for b.Loop() {
		// Put back what the last round took out, sharing the slice.
		h["Connection"] = conn
		RemoveHopByHop(h)
	}
	if len(h) != len(src)-1 {
		b.Fatalf("RemoveHopByHop left %d headers, want %d", len(h), len(src)-1)
	}
}
