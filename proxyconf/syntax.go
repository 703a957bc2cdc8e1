package proxyconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// The checks in this file run before the TOML decoder sees the text, for two
// reasons. The decoder places a control character one byte before where it
// is, so a problem naming the line would blame the line above it, or index
// the text at -1 when the character is the file's first byte. And the
// decoder's cost grows with the square of the nesting depth: a few kilobytes
// of nested inline tables or dotted keys take minutes and gigabytes to
// decode. No ferrum setting is deeper than route.backends[0].weight, so a
// limit far above that refuses only files that are wrong anyway, and refuses
// them at once.

// maxNesting bounds arrays, inline tables and dotted-key parts open at one
// point of the file.
const maxNesting = 32

// unparsable starts the message of the Problem that stands for a panic inside
// Parse.
const unparsable = "could not be parsed"

// utf8BOM is the byte order mark some editors put at the start of a UTF-8 file.
const utf8BOM = "\ufeff"

// checkText finds the first byte of text that TOML allows nowhere, not even
// in a string or a comment: invalid UTF-8, a control character other than
// tab and line feed, or a carriage return that does not end a line. It
// returns the line it is on and what is wrong, or ok when there is none.
func checkText(text string) (line int, msg string, ok bool) {
	line = 1
	for i := 0; i < len(text); {
		if c := text[i]; ' ' <= c && c < utf8.RuneSelf && c != 0x7f {
			i++ // printable ASCII, most of any file
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if i == 0 && (strings.HasPrefix(text, "\xff\xfe") || strings.HasPrefix(text, "\xfe\xff")) {
				return line, "the file is UTF-16; save it as UTF-8", false
			}
			return line, fmt.Sprintf("invalid UTF-8 byte %s; save the file as UTF-8", quoteByte(text[i])), false
		case r == '\n':
			line++
		case r == '\r':
			if !strings.HasPrefix(text[i+1:], "\n") {
				return line, `carriage return '\r' without a line feed after it; end lines with LF or CRLF`, false
			}
		case r == 0:
			return line, `NUL byte '\x00' is not allowed; if the file is UTF-16, save it as UTF-8`, false
		case r < 0x20 && r != '\t' || r == 0x7f:
			return line, fmt.Sprintf("control character %s is not allowed; only tab, LF and CRLF are",
				quoteByte(text[i])), false
		}
		i += size
	}
	return 0, "", true
}

// quoteByte writes b as a Go rune literal: '\x01', '\x7f', '\xff'.
func quoteByte(b byte) string { return fmt.Sprintf(`'\x%02x'`, b) }

// checkNesting follows text just far enough to tell keys from values, strings
// and comments from the rest, and reports the first line where more than
// maxNesting arrays, inline tables and dotted-key parts are open together. It
// expects text that passed checkText. On text that is not TOML it may count
// wrong, which does no harm: the decoder refuses such text anyway.
func checkNesting(text string) (line int, msg string, ok bool) {
	type frame struct {
		table bool // an inline table; otherwise an array
		key   bool // in an inline table, reading a key (before its "=")
		depth int  // nesting depth just inside the bracket
	}
	var (
		stack    []frame
		depth    int  // open brackets plus the dotted parts of the keys being read
		topValue bool // outside any bracket, after a key's "="
	)
	line = 1
	inKey := func() bool {
		if len(stack) == 0 {
			return !topValue
		}
		return stack[len(stack)-1].key
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\n':
			line++
			if len(stack) == 0 {
				depth, topValue = 0, false
			}
		case '#':
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			end, lines := skipString(text, i)
			i, line = end, line+lines
		case '.':
			if inKey() {
				depth++
			}
		case '=':
			if len(stack) == 0 {
				topValue = true
			} else {
				stack[len(stack)-1].key = false
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].table {
				stack[n-1].key = true
				depth = stack[n-1].depth
			}
		case '[', '{':
			if len(stack) == 0 && !topValue {
				continue // a table header: [name] or [[name]]
			}
			depth++
			stack = append(stack, frame{table: c == '{', key: c == '{', depth: depth})
		case ']', '}':
			if n := len(stack); n > 0 {
				depth = stack[n-1].depth - 1
				stack = stack[:n-1]
			}
		}
		if depth > maxNesting {
			return line, fmt.Sprintf("more than %d arrays, inline tables and dotted key parts nested; "+
				"no ferrum setting is nested that deep", maxNesting), false
		}
	}
	return 0, "", true
}

// skipString returns the index of the last byte of the string that starts at
// text[i], a quote, and the number of line feeds inside it. A string left
// open ends before the line feed (one-line strings) or with the text.
func skipString(text string, i int) (end, lines int) {
	quote := text[i]
	basic := quote == '"'
	delim := string([]byte{quote, quote, quote})
	if strings.HasPrefix(text[i:], delim) {
		for j := i + 3; j < len(text); j++ {
			switch {
			case basic && text[j] == '\\':
				j++ // the escaped byte, maybe the line feed of a line-ending backslash
				if j < len(text) && text[j] == '\n' {
					lines++
				}
			case text[j] == '\n':
				lines++
			case strings.HasPrefix(text[j:], delim):
				end = j + 2
				// Up to two more quotes belong to the string: """a""""" is `a""`.
				for k := 0; k < 2 && end+1 < len(text) && text[end+1] == quote; k++ {
					end++
				}
				return end, lines
			}
		}
		return len(text) - 1, lines
	}
	for j := i + 1; j < len(text); j++ {
		switch {
		case basic && text[j] == '\\':
			if j+1 < len(text) && text[j+1] != '\n' {
				j++
			}
		case text[j] == '\n':
			return j - 1, 0
		case text[j] == quote:
			return j, 0
		}
	}
	return len(text) - 1, 0
}

// syntaxProblem turns a TOML decoding failure of text into a Problem naming
// the line. The line is counted from the error's byte offset: the decoder's
// own line number is one too far when the offending token is a line's final
// newline ("[[route]" reported on the line after it). Either way the line
// stays within the text.
func syntaxProblem(name, text string, err error) Problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Problem{File: name, Msg: oneLine(err.Error())}
	}
	line := pe.Position.Line
	if start := pe.Position.Start; 0 <= start && start <= len(text) {
		line = 1 + strings.Count(text[:start], "\n")
	}
	line = min(max(line, 1), 1+strings.Count(text, "\n"))
	return Problem{File: name, Msg: fmt.Sprintf("line %d: %s", line, oneLine(pe.Message))}
}

// oneLine returns s with every rune a terminal would not print as itself
// (line feeds, carriage returns, other control characters, invalid UTF-8)
// written as a Go escape, so that a message holding text from the file stays
// on one line and shows what the file really holds.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, notPrintable) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case notPrintable(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// notPrintable reports runes oneLine escapes. utf8.RuneError stands for
// invalid UTF-8 here, and oneLine checks which one it is.
func notPrintable(r rune) bool {
	return r == utf8.RuneError || r != ' ' && !strconv.IsPrint(r)
}
