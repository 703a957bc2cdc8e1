package proxyconf

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// table reads one TOML table of the document. Every key a reader asks for is
// remembered as known, whether or not its value was good, so that done can
// report the rest as unknown. Checking keys here rather than through
// toml.MetaData.Undecoded is what lets a problem name the route it is in:
// the decoder's keys for [[route]] carry no index.
//
// A table knows where it sits rather than its full name, which is built only
// when a problem needs it: a file of ten thousand routes would otherwise
// format tens of thousands of names that nobody reads.
type table struct {
	d      *decoder
	parent *table         // the table this one is in; nil for the root
	field  string         // its key in parent
	index  int            // its index in the array parent.field, or -1 when it is parent.field itself
	raw    map[string]any // as decoded; nil for a table absent from the file
	// Keys of raw a reader asked for, and those whose value was accepted into
	// the section. Each holds distinct keys of raw that a reader asked for,
	// a dozen at most, so a few comparisons find one.
	seen, set []string
}

// root returns the table of the whole document.
func (d *decoder) root(doc map[string]any) *table { return newTable(d, nil, "", -1, doc) }

// child returns the table raw found in t under field, at index in that array
// or with index -1 when it is the value of field itself.
func (t *table) child(field string, index int, raw map[string]any) *table {
	return newTable(t.d, t, field, index, raw)
}

// newTable takes the table and its key lists from slabs of the decoder: a
// large file has tens of thousands of tables, all dropped together when
// Parse returns, and one allocation per slab costs far less than one per
// table.
func newTable(d *decoder, parent *table, field string, index int, raw map[string]any) *table {
	if len(d.tables) == cap(d.tables) {
		d.tables = make([]table, 0, slabSize)
	}
	d.tables = append(d.tables, table{d: d, parent: parent, field: field, index: index, raw: raw})
	t := &d.tables[len(d.tables)-1]
	if n := len(raw); n > 0 {
		// Both lists capped, so that neither grows into the other or into
		// the next table's.
		if len(d.keys)+2*n > cap(d.keys) {
			d.keys = make([]string, 0, max(slabSize, 2*n))
		}
		at := len(d.keys)
		d.keys = d.keys[:at+2*n]
		t.seen, t.set = d.keys[at:at:at+n], d.keys[at+n:at+n:at+2*n]
	}
	return t
}

// slabSize is how many tables, and key list entries, one slab holds.
const slabSize = 256

// name returns the full key of the table in problems: "", "server",
// "route[0].health".
func (t *table) name() string {
	switch {
	case t.parent == nil:
		return ""
	case t.index < 0:
		return t.parent.key(t.field)
	}
	return t.parent.elem(t.field, t.index)
}

// key returns the full name of k in this table, quoting k when it is not a
// bare TOML key so the name stays unambiguous.
func (t *table) key(k string) string {
	if k == "" || strings.ContainsFunc(k, notBare) {
		k = fmt.Sprintf("%q", k)
	}
	name := t.name()
	if name == "" {
		return k
	}
	return name + "." + k
}

// notBare reports runes a bare TOML key cannot hold.
func notBare(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-')
}

// elem returns the full name of element i of the array k.
func (t *table) elem(k string, i int) string { return fmt.Sprintf("%s[%d]", t.key(k), i) }

func (t *table) problem(k, format string, args ...any) {
	t.d.add(t.key(k), fmt.Sprintf(format, args...))
}

// elemProblem reports msg about element i of the array k.
func (t *table) elemProblem(k string, i int, msg string) { t.d.add(t.elem(k, i), msg) }

// value returns the raw value of k and marks k as known.
func (t *table) value(k string) (any, bool) {
	v, ok := t.raw[k]
	if ok && !slices.Contains(t.seen, k) {
		t.seen = append(t.seen, k)
	}
	return v, ok
}

// accept records that the value of k went into the section.
func (t *table) accept(k string) {
	if !slices.Contains(t.set, k) {
		t.set = append(t.set, k)
	}
}

// accepted reports whether the value of k went into the section.
func (t *table) accepted(k string) bool { return slices.Contains(t.set, k) }

// rejected reports whether the file set k to a value that was not accepted.
func (t *table) rejected(k string) bool {
	_, present := t.raw[k]
	return present && !t.accepted(k)
}

// require reports k as missing when the table lacks it.
func (t *table) require(k string) bool {
	if _, ok := t.value(k); !ok {
		t.problem(k, "is required")
		return false
	}
	return true
}

// sub returns the table k. An absent table reads as an empty one; a value of
// another type is a problem and also reads as empty.
func (t *table) sub(k string) *table {
	v, ok := t.value(k)
	m, isTable := v.(map[string]any)
	if ok && !isTable {
		t.problem(k, "must be a table, not %s", describe(v))
	}
	return t.child(k, -1, m)
}

// done reports every key no reader asked for, in sorted order.
func (t *table) done() {
	if len(t.seen) == len(t.raw) {
		return // seen holds distinct keys of raw, so it holds them all
	}
	var unknown []string
	for k := range t.raw {
		if !slices.Contains(t.seen, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		t.problem(k, "unknown key")
	}
}

// text returns the value of k when it is present and a string.
func (t *table) text(k string) (string, bool) {
	v, ok := t.value(k)
	if !ok {
		return "", false
	}
	s, isString := v.(string)
	if !isString {
		t.problem(k, "must be a string, not %s", describe(v))
	}
	return s, isString
}

func (t *table) boolean(k string, dst *bool) {
	v, ok := t.value(k)
	if !ok {
		return
	}
	b, isBool := v.(bool)
	if !isBool {
		t.problem(k, "must be true or false, not %s", describe(v))
		return
	}
	*dst = b
	t.accept(k)
}

// duration reads k, a Go duration string that must be above zero.
func (t *table) duration(k string, dst *time.Duration) { t.readDuration(k, dst, false) }

// durationOrZero reads k, a Go duration string that may be zero.
func (t *table) durationOrZero(k string, dst *time.Duration) { t.readDuration(k, dst, true) }

func (t *table) readDuration(k string, dst *time.Duration, zeroOK bool) {
	v, ok := t.value(k)
	if !ok {
		return
	}
	s, isString := v.(string)
	if !isString {
		t.problem(k, `must be a duration string such as "5s", not %s`, describe(v))
		return
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		t.problem(k, `%q is not a duration; write it like "250ms", "5s" or "1m"`, s)
	case d < 0:
		t.problem(k, "%s is negative", s)
	case d == 0 && !zeroOK:
		t.problem(k, "must be longer than 0")
	default:
		*dst = d
		t.accept(k)
	}
}

// integer reads k, an integer in lo..hi, into dst.
func integer[T int | int64](t *table, k string, dst *T, lo, hi int64) {
	v, ok := t.value(k)
	if !ok {
		return
	}
	n, isInt := v.(int64)
	switch {
	case !isInt:
		t.problem(k, "must be an integer, not %s", describe(v))
	case n < lo && hi >= math.MaxInt:
		t.problem(k, "must be at least %d, not %d", lo, n)
	case n < lo || n > hi:
		t.problem(k, "must be between %d and %d, not %d", lo, hi, n)
	default:
		*dst = T(n)
		t.accept(k)
	}
}

// statusRange reads k, written [min, max] with 100 <= min <= max <= 599.
func (t *table) statusRange(k string, dst *StatusRange) {
	v, ok := t.value(k)
	if !ok {
		return
	}
	list, _ := asList(v)
	var codes []int64
	for _, e := range list {
		if n, isInt := e.(int64); isInt {
			codes = append(codes, n)
		}
	}
	if len(list) != 2 || len(codes) != 2 {
		t.problem(k, "must be two status codes [min, max], not %s", describe(v))
		return
	}
	lo, hi := codes[0], codes[1]
	switch {
	case !isStatus(lo) || !isStatus(hi):
		t.problem(k, "[%d, %d] is outside 100..599", lo, hi)
	case lo > hi:
		t.problem(k, "[%d, %d] is inverted; write [%d, %d]", lo, hi, hi, lo)
	default:
		*dst = StatusRange{Min: int(lo), Max: int(hi)}
		t.accept(k)
	}
}

func isStatus(code int64) bool { return 100 <= code && code <= 599 }

// asList returns v as a list when it is a TOML array: an inline array, or an
// array of tables written with [[...]].
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []map[string]any:
		list := make([]any, len(v))
		for i, m := range v {
			list[i] = m
		}
		return list, true
	}
	return nil, false
}

// describe names a decoded TOML value for a problem message.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the float %v", v)
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case []any, []map[string]any:
		return "the array " + render(v)
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("a %T", v)
}

// render writes a decoded TOML value back roughly as it was written.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []any, []map[string]any:
		list, _ := asList(v)
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{...}"
	}
	return fmt.Sprint(v)
}

// isBlank reports whether s is non-empty and only white space.
func isBlank(s string) bool { return s != "" && strings.TrimSpace(s) == "" }

// spaceOrControl reports runes never allowed in prefixes, paths and names.
func spaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
