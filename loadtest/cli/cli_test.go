package cli

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		n       int
		wantErr string // "" for none
		help    bool
	}{
		{"nothing", nil, 1, "", false},
		{"a flag", []string{"-n", "3"}, 3, "", false},
		{"help", []string{"-h"}, 1, "help requested", true},
		{"unknown flag", []string{"-x"}, 1, "not defined: -x", false},
		{"bad value", []string{"-n", "three"}, 1, "invalid value", false},
		{"an argument", []string{"-n", "3", "extra"}, 3, `unexpected argument "extra"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			fs := NewFlagSet("tool", "usage: tool [flags]\n\n", &stderr)
			n := fs.Int("n", 1, "how many")
			err := Parse(fs, tc.args)
			if tc.wantErr == "" {
				if err != nil || *n != tc.n {
					t.Fatalf("Parse(%q) = %v, n %d; want no error, n %d", tc.args, err, *n, tc.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse(%q) = %v, want an error about %q", tc.args, err, tc.wantErr)
			}
			if errors.Is(err, flag.ErrHelp) != tc.help {
				t.Errorf("Parse(%q) = %v; flag.ErrHelp: %v, want %v", tc.args, err, !tc.help, tc.help)
			}
			if tc.help && (!strings.HasPrefix(stderr.String(), "usage: tool [flags]\n\n") || !strings.Contains(stderr.String(), "how many")) {
				t.Errorf("-h printed %q, want the head and then the flags", stderr.String())
			}
		})
	}
}

func TestUsageExit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"help", flag.ErrHelp, 0, ""},
		{"usage error", errors.New(`unexpected argument "x"`), 2, "tool: unexpected argument \"x\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := UsageExit("tool", tc.err, &stderr); got != tc.code || stderr.String() != tc.stderr {
				t.Errorf("UsageExit(%v) = %d, printed %q; want %d, %q", tc.err, got, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}
