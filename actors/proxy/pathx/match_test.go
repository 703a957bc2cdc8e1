package pathx

import (
	"fmt"
	"testing"
)

func TestMatch(t *testing.T) {
	table := []string{"/api", "/api/v1", "/", "/static/img", "/a//b", "/api/v1/users"}
	m := NewMatcher(table)
	tests := []struct {
		path string
		want string // "" for no route
	}{
		{"/api", "/api"},
		{"/api/", "/api"},
		{"/api/users", "/api"},
		{"/apix", "/"},
		{"/api/v1", "/api/v1"},
		{"/api/v1/", "/api/v1"},
		{"/api/v10", "/api"},
		{"/api/v1/users", "/api/v1/users"},
		{"/api/v1/users/7", "/api/v1/users"},
		{"/api/v1/usersx", "/api/v1"},
		{"/api//v1", "/api"},
		{"/static", "/"},
		{"/static/img/x.png", "/static/img"},
		{"/static/imgs", "/"},
		{"/a//b/c", "/a//b"},
		{"/a/b", "/"},
		{"/admin", "/"},
		{"/", "/"},
		{"/api%2Fv1", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			i, ok := m.Match(tt.path)
			got := ""
			if ok {
				got = table[i]
			}
			if got != tt.want {
				t.Errorf("Match(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestMatchWithoutCatchAll(t *testing.T) {
	table := []string{"/api", "/web"}
	m := NewMatcher(table)
	tests := []struct{ path, want string }{
		{"/api/x", "/api"},
		{"/web", "/web"},
		{"/apix", ""},
		{"/", ""},
		{"/ap", ""},
		{"", ""},
		{"/admin/api", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			i, ok := m.Match(tt.path)
			got := ""
			if ok {
				got = table[i]
			}
			if got != tt.want {
				if tt.want == "" {
					t.Errorf("Match(%q) = %q, want no route", tt.path, got)
				} else {
					t.Errorf("Match(%q) = %q, want %q", tt.path, got, tt.want)
				}
			}
		})
	}
}

func TestMatchDuplicateFirstWins(t *testing.T) {
	m := NewMatcher([]string{"/", "/a", "/a", "/"})
	if i, ok := m.Match("/a/b"); i != 1 || !ok {
		t.Errorf("Match(/a/b) = %d, %v; want 1, true", i, ok)
	}
	if i, ok := m.Match("/b"); i != 0 || !ok {
		t.Errorf("Match(/b) = %d, %v; want 0, true", i, ok)
	}
}

// The contract's guarantee end to end: a path that dot-segments take out
// of a prefix never routes to it.
func TestNormalizeThenMatch(t *testing.T) {
	table := []string{"/api", "/admin"}
	m := NewMatcher(table)
	for _, target := range []string{"/api/../admin", "/api/%2e%2e/admin", "/api/.%2E/admin?x", "http://h/api/./../admin"} {
		path, _, _, ok := SplitTarget(target)
		if !ok {
			t.Fatalf("SplitTarget(%q) not ok", target)
		}
		norm, ok := Normalize(path)
		if !ok {
			t.Fatalf("Normalize(%q) not ok", path)
		}
		i, ok := m.Match(norm)
		if !ok || table[i] != "/admin" {
			t.Errorf("Match(Normalize(%q)) = %d, %v; want /admin", target, i, ok)
		}
	}
}

func bigTable(n int) []string {
	prefixes := make([]string, 0, n+1)
	for i := range n {
		prefixes = append(prefixes, fmt.Sprintf("/svc%d/v%d", i, i%3))
	}
	return append(prefixes, "/")
}

func TestMatchBigTable(t *testing.T) {
	table := bigTable(500)
	m := NewMatcher(table)
	for i := range 500 {
		p := table[i] + "/items/42"
		if j, ok := m.Match(p); !ok || j != i {
			t.Fatalf("Match(%q) = %d, %v; want %d", p, j, ok, i)
		}
	}
	if j, _ := m.Match("/svc1/v9"); table[j] != "/" {
		t.Errorf("Match(/svc1/v9) = %q, want /", table[j])
	}
}

func TestMatchAllocs(t *testing.T) {
	m := NewMatcher(bigTable(500))
	for _, p := range []string{"/svc250/v1/items/42", "/nothing/here/at/all", "/", ""} {
		if n := testing.AllocsPerRun(100, func() { m.Match(p) }); n != 0 {
			t.Errorf("Match(%q) allocs = %v, want 0", p, n)
		}
	}
}

func BenchmarkMatch500(b *testing.B) {
	m := NewMatcher(bigTable(500))
	paths := []string{
		"/svc250/v1/items/42",
		"/svc7/v1/users/abc/orders",
		"/static/app.js",
		"/svc499/v1",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Match(paths[i&3])
		i++
	}
}
