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
type table struct {
	d    *decoder
	name string          // full key of the table in problems: "", "server", "route[0].health"
	raw  map[string]any  // as decoded; nil for a table absent from the file
	seen map[string]bool // keys a reader asked for
	set  map[string]bool // keys whose value was accepted into the section
}

func (d *decoder) table(name string, raw map[string]any) *table {
	return &table{d: d, name: name, raw: raw, seen: map[string]bool{}, set: map[string]bool{}}
}

// key returns the full name of k in this table, quoting k when it is not a
// bare TOML key so the name stays unambiguous.
func (t *table) key(k string) string {
	if k == "" || strings.ContainsFunc(k, notBare) {
		k = fmt.Sprintf("%q", k)
	}
	if t.name == "" {
		return k
	}
	return t.name + "." + k
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

// value returns the raw value of k and marks k as known.
func (t *table) value(k string) (any, bool) {
	t.seen[k] = true
	v, ok := t.raw[k]
	return v, ok
}

// accept records that the value of k went into the section.
func (t *table) accept(k string) { t.set[k] = true }

// rejected reports whether the file set k to a value that was not accepted.
func (t *table) rejected(k string) bool {
	_, present := t.raw[k]
	return present && !t.set[k]
}

// require reports k as missing when the table lacks it.
func (t *table) require(k string) bool {
	t.seen[k] = true
	if _, ok := t.raw[k]; !ok {
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
	return t.d.table(t.key(k), m)
}

// done reports every key no reader asked for, in sorted order.
func (t *table) done() {
	var unknown []string
	for k := range t.raw {
		if !t.seen[k] {
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
