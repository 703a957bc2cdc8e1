//go:build linux

package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		line string
		want map[string]string
	}{
		{`time=2026-01-02T03:04:05.000Z level=INFO msg=server_start listen=127.0.0.1:41234 routes=2`,
			map[string]string{"level": "INFO", "msg": "server_start", "listen": "127.0.0.1:41234", "routes": "2"}},
		{`time=2026-01-02T03:04:05.000Z level=ERROR msg=config_reload result=failure error="ferrum.toml: line 1: control character '\\x01' is not allowed"`,
			map[string]string{"level": "ERROR", "result": "failure", "error": `ferrum.toml: line 1: control character '\x01' is not allowed`}},
		{`time=x level=WARN msg=accept_error error="accept tcp 127.0.0.1:8080: accept4: too many open files" retry_in=5ms`,
			map[string]string{"level": "WARN", "msg": "accept_error", "error": "accept tcp 127.0.0.1:8080: accept4: too many open files", "retry_in": "5ms"}},
		{`time=x level=INFO msg=health_transition backend=http://127.0.0.1:3002 from=healthy to=ejected reason=passive_failure`,
			map[string]string{"msg": "health_transition", "to": "ejected", "reason": "passive_failure"}},
		{`time=x level=INFO msg=x note="a \"quoted\" word" empty=`,
			map[string]string{"note": `a "quoted" word`, "empty": ""}},
	}
	for _, tt := range tests {
		got := parseLogLine(tt.line)
		for k, want := range tt.want {
			if got[k] != want {
				t.Errorf("parseLogLine(%.50q)[%s] = %q, want %q", tt.line, k, got[k], want)
			}
		}
	}
	for _, notSlog := range []string{"panic: runtime error: slice bounds out of range [:-1]", "\tgoroutine 1 [running]:", "2026/01/02 http: Accept error", ""} {
		if got := parseLogLine(notSlog); got != nil {
			t.Errorf("parseLogLine(%q) = %v, want nil", notSlog, got)
		}
	}
}

func TestLogWatch(t *testing.T) {
	pr, pw := io.Pipe()
	w := newLogWatch()
	var copied strings.Builder
	done := make(chan struct{})
	go func() { defer close(done); w.run(pr, &copied) }()

	found := make(chan logLine, 1)
	go func() {
		l, _ := w.waitFor(nil, func(l logLine) bool { return isEvent(l, "server_start") })
		found <- l
	}()
	io.WriteString(pw, "time=x level=INFO msg=hello\n")
	io.WriteString(pw, "time=x level=INFO msg=server_start listen=127.0.0.1:5\n")
	select {
	case l := <-found:
		if l.attrs["listen"] != "127.0.0.1:5" || l.n != 2 {
			t.Errorf("waitFor = line %d %v, want line 2 with listen 127.0.0.1:5", l.n, l.attrs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitFor did not see server_start within 10s")
	}
	io.WriteString(pw, "time=x level=WARN msg=accept_error error=\"too many open files\"\n")
	io.WriteString(pw, "not slog\n")
	pw.Close()
	<-done

	if w.count() != 4 {
		t.Errorf("count = %d, want 4", w.count())
	}
	warns := w.find(1, func(l logLine) bool { return l.attrs != nil && l.attrs["level"] == "WARN" })
	if len(warns) != 1 || warns[0].n != 3 {
		t.Errorf("find(WARN after line 1) = %+v, want line 3", warns)
	}
	if got := len(w.find(3, func(logLine) bool { return true })); got != 1 {
		t.Errorf("find(after line 3) = %d lines, want 1", got)
	}
	if got := w.tail(2); len(got) != 2 || got[1] != "not slog" {
		t.Errorf("tail(2) = %q", got)
	}
	if !strings.HasSuffix(copied.String(), "not slog\n") {
		t.Errorf("copy = %q, want every line", copied.String())
	}
	// At EOF, a waiter for a line that never came returns at once.
	if _, ok := w.waitFor(nil, func(l logLine) bool { return isEvent(l, "never") }); ok {
		t.Errorf("waitFor(never) after EOF = true, want false")
	}
}

func TestIsEvent(t *testing.T) {
	l := logLine{attrs: parseLogLine("time=x level=INFO msg=health_transition to=ejected backend=b")}
	tests := []struct {
		msg  string
		kv   []string
		want bool
	}{
		{"health_transition", nil, true},
		{"health_transition", []string{"to", "ejected"}, true},
		{"health_transition", []string{"to", "unhealthy"}, false},
		{"health_transition", []string{"to", "ejected", "backend", "b"}, true},
		{"config_reload", nil, false},
	}
	for _, tt := range tests {
		if got := isEvent(l, tt.msg, tt.kv...); got != tt.want {
			t.Errorf("isEvent(%s, %q) = %v, want %v", tt.msg, tt.kv, got, tt.want)
		}
	}
	if isEvent(logLine{text: "panic"}, "panic") {
		t.Errorf("isEvent(non-slog line) = true, want false")
	}
}
