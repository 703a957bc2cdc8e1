//go:build linux

package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// logLine is one line ferrum wrote on stderr, as the watcher keeps it.
type logLine struct {
	// n is the line's number on stderr, counted from 1.
	n    int
	at   time.Time
	text string
	// attrs are the line's key=value pairs (time, level, msg, ...); nil for
	// a line that is not slog text, such as a Go panic.
	attrs map[string]string
}

// maxKeptLines bounds what the watcher keeps of a log flood; every line is
// still counted and written to the log file.
const maxKeptLines = 50000

// logWatch reads ferrum's stderr: it copies every line to a file, counts
// them, and keeps the first maxKeptLines for the verdicts. Safe for
// concurrent use; its reading goroutine is the only writer.
type logWatch struct {
	mu    sync.Mutex
	total int       // lines read so far; written under mu
	kept  []logLine // the first maxKeptLines lines; written under mu
	// changed is closed and replaced on every new line and at EOF, so a
	// waiter wakes up and looks again; written under mu.
	changed chan struct{}
	eof     bool // stderr closed; written under mu
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

// run reads r to its end, copying each line to copyTo. It returns at EOF
// or on a read error; the caller runs it in a goroutine of its own.
func (w *logWatch) run(r io.Reader, copyTo io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		io.WriteString(copyTo, text+"\n")
		w.add(text, time.Now())
	}
	// A line longer than the buffer stops the scanner; keep draining so
	// ferrum never blocks on a full pipe.
	io.Copy(copyTo, r)
	w.mu.Lock()
	w.eof = true
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *logWatch) add(text string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total++
	if len(w.kept) < maxKeptLines {
		w.kept = append(w.kept, logLine{n: w.total, at: at, text: text, attrs: parseLogLine(text)})
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// count is the number of lines read so far.
func (w *logWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// find returns the kept lines after line number from that match.
func (w *logWatch) find(from int, match func(logLine) bool) []logLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []logLine
	for _, l := range w.kept {
		if l.n > from && match(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor blocks until a kept line matches, stderr closes, or done closes;
// it returns the first matching line and whether there was one.
func (w *logWatch) waitFor(done <-chan struct{}, match func(logLine) bool) (logLine, bool) {
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.kept); seen++ {
			if match(w.kept[seen]) {
				l := w.kept[seen]
				w.mu.Unlock()
				return l, true
			}
		}
		changed, eof := w.changed, w.eof
		w.mu.Unlock()
		if eof {
			return logLine{}, false
		}
		select {
		case <-changed:
		case <-done:
			return logLine{}, false
		}
	}
}

// tail is the last n kept lines' text, for explaining a failure.
func (w *logWatch) tail(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := max(0, len(w.kept)-n)
	out := make([]string, 0, len(w.kept)-start)
	for _, l := range w.kept[start:] {
		out = append(out, l.text)
	}
	return out
}

// isEvent reports whether l is the slog event msg with every attribute in
// kv (pairs of key and value).
func isEvent(l logLine, msg string, kv ...string) bool {
	if l.attrs == nil || l.attrs["msg"] != msg {
		return false
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if l.attrs[kv[i]] != kv[i+1] {
			return false
		}
	}
	return true
}

// parseLogLine reads the key=value pairs of one line of slog's text
// format; a value may be quoted with Go escapes. It returns nil when the
// line does not start with a time= or level= pair (a panic, a stack frame,
// net/http's own log lines).
func parseLogLine(s string) map[string]string {
	if !strings.HasPrefix(s, "time=") && !strings.HasPrefix(s, "level=") {
		return nil
	}
	attrs := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := closingQuote(s)
			val = unquote(s[:end])
			s = s[end:]
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		attrs[key] = val
	}
	return attrs
}

// closingQuote is the index just past the quote that closes the quoted
// string s starts with, or len(s) when it is not closed.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// unquote undoes slog's quoting of a value (strconv.Quote); a value it
// cannot read is kept as written, without the outer quotes.
func unquote(q string) string {
	if v, err := strconv.Unquote(q); err == nil {
		return v
	}
	return strings.TrimSuffix(strings.TrimPrefix(q, `"`), `"`)
}
