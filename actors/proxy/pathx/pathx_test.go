package pathx

import (
	"strings"
	"testing"
)

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		target, path, query string
		hasQuery, ok        bool
	}{
		{"/", "/", "", false, true},
		{"/p", "/p", "", false, true},
		{"/p?q=1&r", "/p", "q=1&r", true, true},
		{"/p?", "/p", "", true, true},
		{"/?", "/", "", true, true},
		{"/p?a?b", "/p", "a?b", true, true},
		{"/a%2Fb/%2e%2E/c?x=%20", "/a%2Fb/%2e%2E/c", "x=%20", true, true},
		{"//a/../b", "//a/../b", "", false, true},
		{"http://h/p?q", "/p", "q", true, true},
		{"HTTP://h:8080/p/", "/p/", "", false, true},
		{"https://h/p?", "/p", "", true, true},
		{"http://u@h/p", "/p", "", false, true},
		{"http://h", "/", "", false, true},
		{"http://h?q", "/", "q", true, true},
		{"http://h/?q", "/", "q", true, true},
		{"http://[::1]:80/x", "/x", "", false, true},
		{"http:///p", "", "", false, false},
		{"http://", "", "", false, false},
		{"ftp://h/p", "", "", false, false},
		{"http:/p", "", "", false, false},
		{"*", "", "", false, false},
		{"", "", "", false, false},
		{"?q", "", "", false, false},
		{"example.com:443", "", "", false, false},
		{"p/q", "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			path, query, hasQuery, ok := SplitTarget(tt.target)
			if path != tt.path || query != tt.query || hasQuery != tt.hasQuery || ok != tt.ok {
				t.Errorf("SplitTarget(%q) = %q, %q, %v, %v; want %q, %q, %v, %v",
					tt.target, path, query, hasQuery, ok, tt.path, tt.query, tt.hasQuery, tt.ok)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		// Already normal: returned untouched.
		{"/", "/", true},
		{"/api/users", "/api/users", true},
		{"/a/.b", "/a/.b", true},
		{"/a/..b", "/a/..b", true},
		{"/a/b..", "/a/b..", true},
		{"/a/...", "/a/...", true},
		{"/a/%2e%2e%2e", "/a/%2e%2e%2e", true},
		{"/a/%2e%2", "/a/%2e%2", true},
		{"/a/%2ex", "/a/%2ex", true},
		{"/a/%2f", "/a/%2f", true},
		{"/a%2F../b", "/a%2F../b", true},
		{"/a/%2F..", "/a/%2F..", true},
		{"//a//b/", "//a//b/", true},
		{"/a%20b/%41", "/a%20b/%41", true},
		// Dot segments.
		{"/api/../admin", "/admin", true},
		{"/api/%2e%2e/admin", "/admin", true},
		{"/a/b/..", "/a/", true},
		{"/a/b/../", "/a/", true},
		{"/a/./b", "/a/b", true},
		{"/a/%2e/b", "/a/b", true},
		{"/a/%2E/b", "/a/b", true},
		{"/a/%2e%2E/b", "/b", true},
		{"/a/.%2e/b", "/b", true},
		{"/a/%2E./b", "/b", true},
		{"/a/b/%2e%2e", "/a/", true},
		{"/%2e", "/", true},
		{"/.", "/", true},
		{"/./", "/", true},
		{"/a/.", "/a/", true},
		{"/a/./", "/a/", true},
		{"/a/..", "/", true},
		{"/a/../", "/", true},
		{"/a/b/c/../../d", "/a/d", true},
		{"/a/./././b/.", "/a/b/", true},
		{"//a/../b", "//b", true},
		{"//..", "/", true},
		{"/a//..", "/a/", true},
		{"/a/%2F/../b", "/a/b", true},
		{"/x%2F../../y", "/y", true},
		{"/a/../%2e%2e%2fb", "/%2e%2e%2fb", true},
		{"/p%20q/../r%2Fs", "/r%2Fs", true},
		// Climbing above "/".
		{"/..", "", false},
		{"/../", "", false},
		{"/%2e%2e", "", false},
		{"/%2E.", "", false},
		{"/../a", "", false},
		{"/a/../..", "", false},
		{"/a/../../b", "", false},
		{"/./..", "", false},
		// Not a path.
		{"", "", false},
		{"a/b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Normalize(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNormalizeLong(t *testing.T) {
	seg := strings.Repeat("x", 100)
	in := "/" + seg + "/" + seg + "/" + seg + "/./" + seg + "/../end"
	want := "/" + seg + "/" + seg + "/" + seg + "/end"
	if got, ok := Normalize(in); got != want || !ok {
		t.Errorf("Normalize(long) = %q, %v; want %q, true", got, ok, want)
	}
}

func TestNormalizeAllocs(t *testing.T) {
	for _, p := range []string{"/", "/api/v1/users/42", "/a/.b/..c/%2e%2e%2e", strings.Repeat("/seg", 200)} {
		if n := testing.AllocsPerRun(100, func() { Normalize(p) }); n != 0 {
			t.Errorf("Normalize(%q) allocs = %v, want 0", p, n)
		}
	}
	// A path that changes costs the result string only.
	if n := testing.AllocsPerRun(100, func() { Normalize("/api/../admin/x") }); n != 1 {
		t.Errorf("Normalize(dirty) allocs = %v, want 1", n)
	}
}

func TestSplitTargetAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { SplitTarget("http://h/p?q") }); n != 0 {
		t.Errorf("SplitTarget allocs = %v, want 0", n)
	}
}

func TestStripPrefix(t *testing.T) {
	tests := []struct{ path, prefix, want string }{
		{"/api/users", "/api", "/users"},
		{"/api", "/api", "/"},
		{"/api/", "/api", "/"},
		{"/api//x", "/api", "//x"},
		{"/api/a/b", "/api/a", "/b"},
		{"/anything", "/", "/anything"},
		{"/", "/", "/"},
		{"/apix", "/api", "/apix"},
		{"/other", "/api", "/other"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.prefix, func(t *testing.T) {
			if got := StripPrefix(tt.path, tt.prefix); got != tt.want {
				t.Errorf("StripPrefix(%q, %q) = %q, want %q", tt.path, tt.prefix, got, tt.want)
			}
		})
	}
}

func BenchmarkNormalizeClean(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Normalize("/api/v1/users/42/orders/recent")
	}
}

func BenchmarkNormalizeDirty(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Normalize("/api/v1/users/../%2e%2E/admin/./x")
	}
}

func BenchmarkSplitTarget(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		SplitTarget("/api/v1/users/42?expand=orders&limit=10")
	}
}
