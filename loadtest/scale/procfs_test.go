package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParsePidStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       pidStat
		wantErr    string
	}{
		{
			name: "plain",
			line: "4242 (ferrum) S 1 4242 4242 0 -1 4194560 1200 0 0 0 350 120 0 0 20 0 12 0 1000 1000000 3000",
			want: pidStat{pid: 4242, ppid: 1, ticks: 470},
		},
		{
			name: "comm with spaces and parentheses",
			line: "77 (nginx: worker (x) ) S 70 70 70 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1",
			want: pidStat{pid: 77, ppid: 70, ticks: 11},
		},
		{name: "no comm", line: "77 nginx S 70", wantErr: "no (comm)"},
		{name: "short", line: "77 (nginx) S 70 70", wantErr: "fields after comm"},
		{name: "bad pid", line: "x (nginx) S 70 70 70 0 -1 0 0 0 0 0 5 6", wantErr: "pid"},
		{name: "bad utime", line: "77 (nginx) S 70 70 70 0 -1 0 0 0 0 0 five 6", wantErr: "utime"},
		{name: "bad stime", line: "77 (nginx) S 70 70 70 0 -1 0 0 0 0 0 5 -6", wantErr: "stime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePidStat(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parsePidStat(%q) error = %v, want one about %q", tc.line, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parsePidStat(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

func TestCPUSeconds(t *testing.T) {
	if got := (pidStat{ticks: 250}).cpuSeconds(); got != 2.5 {
		t.Errorf("250 ticks = %v s, want 2.5", got)
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       memStatus
		wantErr    string
	}{
		{
			name: "both",
			text: "Name:\tferrum\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\n",
			want: memStatus{rss: 1 << 20, hwm: 2 << 20},
		},
		{name: "rss only", text: "VmRSS:\t 4 kB\n", want: memStatus{rss: 4096}},
		{name: "kernel thread", text: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "no VmRSS"},
		{name: "no unit", text: "VmRSS:\t 4\n", wantErr: "want"},
		{name: "other unit", text: "VmRSS:\t 4 MB\n", wantErr: "want"},
		{name: "not a number", text: "VmRSS:\t four kB\n", wantErr: "VmRSS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseStatus error = %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParsePss(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       uint64
		wantErr    bool
	}{
		{
			name: "rollup",
			text: "5557c6503000-7ffdea1ec000 ---p 00000000 00:00 0   [rollup]\nRss:   1708 kB\nPss:   338 kB\nPss_Dirty:   116 kB\n",
			want: 338 << 10,
		},
		{name: "Pss_Anon is not Pss", text: "Pss_Anon:   116 kB\n", wantErr: true},
		{name: "empty", text: "", wantErr: true},
		{name: "bad", text: "Pss: lots kB\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePss(tc.text)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parsePss = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDescendants(t *testing.T) {
	all := []pidStat{
		{pid: 1, ppid: 0}, {pid: 10, ppid: 1}, {pid: 11, ppid: 10}, {pid: 12, ppid: 10},
		{pid: 13, ppid: 11}, {pid: 20, ppid: 1}, {pid: 21, ppid: 20},
	}
	for _, tc := range []struct {
		root int
		want []int
	}{
		{10, []int{10, 11, 12, 13}},
		{20, []int{20, 21}},
		{13, []int{13}},
		{99, []int{99}},
	} {
		if got := descendants(tc.root, all); !slices.Equal(got, tc.want) {
			t.Errorf("descendants(%d) = %v, want %v", tc.root, got, tc.want)
		}
	}
}

// TestReadOwnProcess reads this test's own /proc entries, so the parsers
// are tried on what the running kernel writes.
func TestReadOwnProcess(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	s, err := readPidStat(pid)
	if err != nil || s.pid != pid || s.ppid != os.Getppid() {
		t.Fatalf("readPidStat(self) = %+v, %v; want pid %d, ppid %d", s, err, pid, os.Getppid())
	}
	rss, pss, procs, err := treeMemory(pid)
	if err != nil || rss == 0 || pss == 0 || procs < 1 {
		t.Fatalf("treeMemory(self) = %d, %d, %d, %v; want non-zero memory of at least one process", rss, pss, procs, err)
	}
	if _, _, _, err := treeMemory(1 << 30); err == nil {
		t.Error("treeMemory of a pid that does not exist: no error")
	}
}
