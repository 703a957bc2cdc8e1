package proc

import (
	"strings"
	"testing"
)

func TestCopyListening(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		addr      string // "" for none
	}{
		{"backend", "backend b1 listening on 127.0.0.1:3001\nGET /\n", "127.0.0.1:3001"},
		{"the first of two", "a listening on 127.0.0.1:1\nb listening on 127.0.0.1:2\n", "127.0.0.1:1"},
		{"no such line", "started\nserving\n", ""},
		{"no newline at the end", "backend b1 listening on [::1]:3001", "[::1]:3001"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			addr := make(chan string, 1)
			CopyListening(strings.NewReader(tc.out), &log, addr)
			var got string
			select {
			case got = <-addr:
			default:
			}
			if got != tc.addr {
				t.Errorf("address = %q, want %q", got, tc.addr)
			}
			want := tc.out
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if log.String() != want {
				t.Errorf("log = %.80q (%d bytes), want the output, %d bytes", log.String(), log.Len(), len(want))
			}
		})
	}
}

// TestCopyListeningLongLine checks that a line too long to scan does not
// stop the copy: the child's pipe is read to its end.
func TestCopyListeningLongLine(t *testing.T) {
	out := "b listening on 127.0.0.1:9\n" + strings.Repeat("x", 100_000) + "\nafter\n"
	var log strings.Builder
	addr := make(chan string, 1)
	CopyListening(strings.NewReader(out), &log, addr)
	if got := <-addr; got != "127.0.0.1:9" {
		t.Errorf("address = %q, want 127.0.0.1:9", got)
	}
	if !strings.HasPrefix(log.String(), "b listening on 127.0.0.1:9\n") || !strings.HasSuffix(log.String(), "x\nafter\n") {
		t.Errorf("log = %.60q...%q, want the first line and the end of the output", log.String(), log.String()[max(0, log.Len()-20):])
	}
}
