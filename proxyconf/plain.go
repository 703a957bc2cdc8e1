package proxyconf

import "strings"

// decodePlain decodes text when it keeps to the plain subset of TOML that a
// ferrum.toml is written in, and reports false as soon as it meets anything
// else, leaving the whole file to the TOML library. It exists for speed: on
// a file of ten thousand routes the library alone took more than the time a
// SIGHUP reload may spend parsing.
//
// For a file it accepts, decodePlain returns what toml.Decode into a
// map[string]any would, value for value and type for type, and ranks each
// top-level key by its first appearance as sectionOrder would. So it never
// decides whether a file is valid: it accepts only text the library accepts,
// and every error message still comes from the library. FuzzPlainDecode
// holds it to that. It expects text that passed checkText, because it takes
// control characters and invalid UTF-8 inside strings and comments as they
// are.
//
// The subset, on lines ending in LF or CRLF, with blank lines, indentation
// and comments anywhere a line may end:
//
//	[name]         a table at the top, once
//	[[name]]       an array of tables
//	[name.sub]     a table in the last element of the array of tables name, once
//	key = value    a bare key, once per table
//
// where a value is a string without escapes ("..." or '...'), a decimal
// integer of at most 18 digits, true or false, an array of such values and
// inline tables (the array may span lines and end with a comma), or an inline
// table { key = value, ... } of scalars on one line.
func decodePlain(text string) (doc map[string]any, order map[string]int, ok bool) {
	s := &plainScanner{text: text}
	doc, order = map[string]any{}, map[string]int{}
	cur, top := doc, true // the table key = value lines go into, and whether it is doc
	for s.nextLine() {
		if !s.at('[') {
			k, v, ok := s.keyValue(false)
			if !ok || !s.lineEnd() || !setNew(cur, k, v) {
				return nil, nil, false
			}
			if top {
				rank(order, k)
			}
			continue
		}
		array := s.skip("[[")
		if !array {
			s.i++ // "["
		}
		name, sub, ok := s.header(array)
		if !ok || !s.lineEnd() {
			return nil, nil, false
		}
		rank(order, name)
		cur, top = map[string]any{}, false
		switch existing, present := doc[name]; {
		case sub != "":
			elems, isArray := existing.([]map[string]any)
			if !isArray || array || !setNew(elems[len(elems)-1], sub, cur) {
				return nil, nil, false
			}
		case array:
			elems, isArray := existing.([]map[string]any)
			if present && !isArray {
				return nil, nil, false
			}
			doc[name] = append(elems, cur)
		case present:
			return nil, nil, false
		default:
			doc[name] = cur
		}
	}
	return doc, order, true
}

// rank gives key the next rank unless it has one.
func rank(order map[string]int, key string) {
	if _, ok := order[key]; !ok {
		order[key] = len(order)
	}
}

// setNew sets t[k] to v unless t has k already, which the plain subset leaves
// to the library to refuse.
func setNew(t map[string]any, k string, v any) bool {
	if _, dup := t[k]; dup {
		return false
	}
	t[k] = v
	return true
}

// plainScanner reads text from i on. Each method either consumes what it
// reads and reports true, or reports false, after which the text is left to
// the library and where i stopped no longer matters.
type plainScanner struct {
	text    string
	i       int
	scratch []any // see array
}

func (s *plainScanner) at(c byte) bool { return s.i < len(s.text) && s.text[s.i] == c }

// skip consumes prefix when the text goes on with it.
func (s *plainScanner) skip(prefix string) bool {
	if strings.HasPrefix(s.text[s.i:], prefix) {
		s.i += len(prefix)
		return true
	}
	return false
}

// spaces consumes tabs and spaces.
func (s *plainScanner) spaces() {
	for s.at(' ') || s.at('\t') {
		s.i++
	}
}

// lineEnd consumes spaces, a comment and the line feed that end a line, or
// the end of the text.
func (s *plainScanner) lineEnd() bool {
	s.spaces()
	if s.at('#') {
		if n := strings.IndexByte(s.text[s.i:], '\n'); n >= 0 {
			s.i += n
		} else {
			s.i = len(s.text)
		}
	}
	return s.i == len(s.text) || s.skip("\n") || s.skip("\r\n")
}

// nextLine skips blank and comment lines and the indentation of the next
// line, and reports whether there is one.
func (s *plainScanner) nextLine() bool {
	for {
		s.spaces()
		switch {
		case s.i == len(s.text):
			return false
		case !s.atLineEnd() || !s.lineEnd():
			return true // a line with content, or a lone carriage return the caller will not take
		}
	}
}

// blanks consumes what may stand between the values of an array: white
// space, line ends and comments.
func (s *plainScanner) blanks() {
	for {
		s.spaces()
		if !s.atLineEnd() || !s.lineEnd() {
			return
		}
	}
}

// atLineEnd reports whether a comment or a line end comes next.
func (s *plainScanner) atLineEnd() bool { return s.at('#') || s.at('\n') || s.at('\r') }

// bareKey consumes a key of letters, digits, "_" and "-".
func (s *plainScanner) bareKey() (string, bool) {
	start := s.i
	for s.i < len(s.text) && !notBare(rune(s.text[s.i])) {
		s.i++
	}
	return s.text[start:s.i], s.i > start
}

// header consumes the rest of a table header after its "[" or "[[": one bare
// key or two joined by a dot, then "]" or "]]".
func (s *plainScanner) header(array bool) (name, sub string, ok bool) {
	s.spaces()
	name, ok = s.bareKey()
	s.spaces()
	if ok && s.skip(".") {
		s.spaces()
		sub, ok = s.bareKey()
		s.spaces()
	}
	end := "]"
	if array {
		end = "]]"
	}
	return name, sub, ok && s.skip(end)
}

// keyValue consumes key = value. In an inline table the value must be a
// scalar.
func (s *plainScanner) keyValue(inline bool) (string, any, bool) {
	k, ok := s.bareKey()
	s.spaces()
	if !ok || !s.skip("=") {
		return "", nil, false
	}
	s.spaces()
	var v any
	switch {
	case s.at('['):
		if inline {
			return "", nil, false
		}
		v, ok = s.array()
	case s.at('{'):
		if inline {
			return "", nil, false
		}
		v, ok = s.inlineTable()
	default:
		v, ok = s.scalar()
	}
	return k, v, ok
}

// array consumes [value, ...], its values scalars or inline tables.
func (s *plainScanner) array() (any, bool) {
	s.i++ // "["
	// The values gather in scratch, which arrays share as none holds another,
	// and are copied out once their number is known.
	list := s.scratch[:0]
	for {
		s.blanks()
		if s.skip("]") {
			s.scratch = list
			return append(make([]any, 0, len(list)), list...), true // never nil, as the library makes it
		}
		var v any
		var ok bool
		if s.at('{') {
			v, ok = s.inlineTable()
		} else {
			v, ok = s.scalar()
		}
		if !ok {
			return nil, false
		}
		list = append(list, v)
		s.blanks()
		if !s.skip(",") && !s.at(']') {
			return nil, false
		}
	}
}

// inlineTable consumes { key = value, ... } on one line, without a trailing
// comma.
func (s *plainScanner) inlineTable() (any, bool) {
	s.i++ // "{"
	t := map[string]any{}
	s.spaces()
	if s.skip("}") {
		return t, true
	}
	for {
		s.spaces()
		k, v, ok := s.keyValue(true)
		if !ok || !setNew(t, k, v) {
			return nil, false
		}
		s.spaces()
		switch {
		case s.skip("}"):
			return t, true
		case !s.skip(","):
			return nil, false
		}
	}
}

// scalar consumes a string, an integer or a boolean, which must be followed
// by white space, a line end or a delimiter of the value around it.
func (s *plainScanner) scalar() (any, bool) {
	if s.at('"') || s.at('\'') {
		return s.str()
	}
	start := s.i
	for s.i < len(s.text) && !strings.ContainsRune(" \t\r\n#,]}", rune(s.text[s.i])) {
		s.i++
	}
	switch word := s.text[start:s.i]; word {
	case "true":
		return true, true
	case "false":
		return false, true
	default:
		return decimal(word)
	}
}

// decimal reads an integer written in plain decimal: an optional "-", then
// digits without a leading zero and few enough that they cannot overflow.
func decimal(word string) (any, bool) {
	digits := strings.TrimPrefix(word, "-")
	if len(digits) == 0 || len(digits) > 18 || len(digits) > 1 && digits[0] == '0' {
		return nil, false
	}
	var n int64
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return nil, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(word) {
		n = -n
	}
	return n, true
}

// str consumes a one-line string without escapes, "..." or '...'.
func (s *plainScanner) str() (any, bool) {
	quote := s.text[s.i]
	triple, stops := "'''", "'\r\n" // a literal string has no escapes
	if quote == '"' {
		triple, stops = `"""`, "\"\\\r\n"
	}
	if strings.HasPrefix(s.text[s.i:], triple) {
		return nil, false // a multi-line string
	}
	s.i++
	rest := s.text[s.i:]
	n := strings.IndexAny(rest, stops)
	if n < 0 || rest[n] != quote {
		return nil, false
	}
	s.i += n + 1
	return rest[:n], true
}
