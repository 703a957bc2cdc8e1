package pathx

import "strings"

// Matcher finds the route whose path prefix is the longest one matching a
// path on whole segments. Build it once per route table with NewMatcher; it
// is immutable afterwards, so any number of goroutines may call Match.
type Matcher struct {
	// index maps each prefix but "/" to its position in the table.
	index map[string]int
	// root is the position of the catch-all "/", or -1 without one.
	root int
	// longest is the length of the longest prefix; longer candidates
	// cannot match and are skipped without a lookup.
	longest int
}

// NewMatcher builds a Matcher over prefixes. Each prefix must already be
// normalized: it starts with "/" and, unless it is "/", does not end with
// "/" (proxyconf guarantees this); one that is not can never match. When a
// prefix appears twice, the first one wins. The Matcher keeps no reference
// to the slice.
func NewMatcher(prefixes []string) *Matcher {
	m := &Matcher{index: make(map[string]int, len(prefixes)), root: -1}
	for i, p := range prefixes {
		if p == "/" {
			if m.root < 0 {
				m.root = i
			}
			continue
		}
		if _, dup := m.index[p]; dup {
			continue
		}
		m.index[p] = i
		m.longest = max(m.longest, len(p))
	}
	return m
}

// Match returns the position in the table of the longest prefix that
// matches path on whole segments: "/api" matches "/api", "/api/" and
// "/api/users", never "/apix"; "/" matches every path. path should be
// normalized (see Normalize). ok is false when no prefix matches.
//
// It looks up each of path's own segment boundaries, longest first, so its
// cost grows with the depth of the path, not the size of the table, and it
// never allocates.
func (m *Matcher) Match(path string) (index int, ok bool) {
	// Candidates are path itself and every path[:k] with path[k] == '/'.
	for k := len(path); k > 0; k = strings.LastIndexByte(path[:k], '/') {
		if k > m.longest {
			continue
		}
		if i, hit := m.index[path[:k]]; hit {
			return i, true
		}
	}
	if m.root >= 0 {
		return m.root, true
	}
	return -1, false
}
