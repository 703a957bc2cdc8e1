package main

import (
	"math"
	"strings"
	"testing"

	"ferrum/loadtest/procfs"
)

func TestParseProcStat(t *testing.T) {
	text := "cpu  100 5 50 800 10 2 3 30 7 0\ncpu0 50 2 25 400 5 1 1 15 3 0\nintr 12345\n"
	got, err := parseProcStat(text)
	want := cpuTimes{user: 100, nice: 5, system: 50, idle: 800, iowait: 10, irq: 2, softirq: 3, steal: 30}
	if err != nil || got != want {
		t.Fatalf("parseProcStat = %+v, %v; want %+v", got, err, want)
	}
	if got.total() != 1000 {
		t.Errorf("total() = %d, want 1000 (guest time is already in user)", got.total())
	}
	old, err := parseProcStat("cpu  1 2 3 4 5 6 7\n")
	if err != nil || old.steal != 0 || old.softirq != 7 {
		t.Errorf("parseProcStat(no steal column) = %+v, %v; want steal 0, softirq 7", old, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) = nil error, want one", bad)
		}
	}
}

func TestStealPercent(t *testing.T) {
	base := cpuTimes{user: 1000, system: 500, idle: 8000, steal: 100}
	tests := []struct {
		name  string
		after cpuTimes
		want  float64
	}{
		{"none", cpuTimes{user: 1500, system: 700, idle: 8300, steal: 100}, 0},
		{"a tenth", cpuTimes{user: 1400, system: 600, idle: 8400, steal: 200}, 10},
		{"all of it", cpuTimes{user: 1000, system: 500, idle: 8000, steal: 600}, 100},
		{"no time passed", base, 0},
		{"counters went back", cpuTimes{}, 0},
	}
	for _, tt := range tests {
		if got := stealPercent(base, tt.after); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("stealPercent(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOtherPercent(t *testing.T) {
	before := cpuTimes{user: 1000, system: 500, idle: 8000, iowait: 100}
	// 200 s of CPU in all (two cores, 100 s), 150 s of it busy.
	after := cpuTimes{user: 1000 + 10000, system: 500 + 5000, idle: 8000 + 4000, iowait: 100 + 1000}
	tests := []struct {
		own  float64
		want float64
	}{
		{150, 0}, {100, 25}, {0, 75}, {400, 0},
	}
	for _, tt := range tests {
		if got := otherPercent(before, after, tt.own); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("otherPercent(own %vs of 150s busy in 200s) = %v, want %v", tt.own, got, tt.want)
		}
	}
	if got := otherPercent(after, after, 0); got != 0 {
		t.Errorf("otherPercent(no time passed) = %v, want 0", got)
	}
}

func TestParseNetTCPCensus(t *testing.T) {
	// Backend on port 8080 (1F90); a proxy connection from 40000 (9C40) to
	// it, its mirror row, a TIME_WAIT from 40001 (9C41), a listener and an
	// unrelated connection.
	text := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 1
   4: 0100007F:1234 0100007F:5678 01 00000000:00000000 00:00000000 00000000     0        0 4 1
`
	backends := map[int]bool{8080: true}
	before := census(procfs.ParseNetTCP(text), backends)
	if before.established != 1 || len(before.closed) != 1 {
		t.Fatalf("census = %d established, %d closed; want 1 and 1", before.established, len(before.closed))
	}
	after := census(procfs.ParseNetTCP(text+"   5: 0100007F:1F90 0100007F:9C42 06 0 0 0 0 0 0 1\n"), backends)
	if n := newlyClosed(before, after); n != 1 {
		t.Errorf("newlyClosed = %d, want 1 (the TIME_WAIT row on the backend side)", n)
	}
	if n := newlyClosed(after, before); n != 0 {
		t.Errorf("newlyClosed(expired rows) = %d, want 0", n)
	}
	// A connection open at the first look and closed by the second was
	// closing already (wrk's, after a warm-up) or belongs to the pass; the
	// census cannot tell, and counts only those it never saw open.
	closing := census(procfs.ParseNetTCP(strings.Replace(text, "1F90 01 ", "1F90 06 ", 1)), backends)
	if n := newlyClosed(before, closing); n != 0 {
		t.Errorf("newlyClosed(connection seen open before) = %d, want 0", n)
	}
}
