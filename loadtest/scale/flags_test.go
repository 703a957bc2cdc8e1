package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{
			name: "defaults",
			check: func(o options) bool {
				return slices.Equal(o.routes, []int{10, 100, 1000, 10000}) && o.interval == 5*time.Second &&
					o.idleWindow == 10*time.Second && o.probeIntervals == 3 && o.compare == nil &&
					o.jsonPath == "" && !o.keepGoing && o.timeout == 10*time.Minute && o.ferrumBin == ""
			},
		},
		{
			name: "all set",
			args: []string{"-routes", " 5, 50 ", "-interval", "200ms", "-idle-window", "1s", "-probe-intervals", "2",
				"-compare", "haproxy,nginx", "-json", "out.json", "-keep-going", "-timeout", "1m", "-ferrum", "bin/ferrum"},
			check: func(o options) bool {
				return slices.Equal(o.routes, []int{5, 50}) && o.interval == 200*time.Millisecond &&
					o.idleWindow == time.Second && o.probeIntervals == 2 && slices.Equal(o.compare, []string{"haproxy", "nginx"}) &&
					o.jsonPath == "out.json" && o.keepGoing && o.timeout == time.Minute && o.ferrumBin == "bin/ferrum"
			},
		},
		{name: "zero routes", args: []string{"-routes", "10,0"}, wantErr: `-routes: "0"`},
		{name: "empty route count", args: []string{"-routes", "10,"}, wantErr: `-routes: ""`},
		{name: "not a number", args: []string{"-routes", "1k"}, wantErr: `-routes: "1k"`},
		{name: "unknown proxy", args: []string{"-compare", "nginx,envoy"}, wantErr: `-compare: "envoy"`},
		{name: "zero interval", args: []string{"-interval", "0s"}, wantErr: "-interval 0s"},
		{name: "tiny interval", args: []string{"-interval", "10us"}, wantErr: "at least 1ms"},
		{name: "zero idle window", args: []string{"-idle-window", "0s"}, wantErr: "-idle-window"},
		{name: "zero timeout", args: []string{"-timeout", "0s"}, wantErr: "-timeout"},
		{name: "no probe intervals", args: []string{"-probe-intervals", "0"}, wantErr: "-probe-intervals 0"},
		{name: "stray argument", args: []string{"10000"}, wantErr: `unexpected argument "10000"`},
		{name: "unknown flag", args: []string{"-rounds", "3"}, wantErr: "-rounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want one with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(o) {
				t.Fatalf("parseFlags(%q) = %+v, %v", tc.args, o, err)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: go run ./loadtest/scale") {
		t.Fatalf("-h: %v, %q", err, out.String())
	}
	if code := run(t.Context(), []string{"-h"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("run -h = %d, want 0", code)
	}
	if code := run(t.Context(), []string{"-routes", "x"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("run with a bad flag = %d, want 2", code)
	}
}
