package procfs

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tail := " S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 9 0 777 12345678 2000"
	for _, tc := range []struct {
		name, line string
		want       Stat
		wantErr    string
	}{
		{
			name: "plain",
			line: "4243 (nginx)" + tail,
			want: Stat{PID: 4243, PPID: 1, Comm: "nginx", UTime: 250, STime: 75},
		},
		{
			name: "spaces and parentheses in comm",
			line: "77 (nginx: worker (x) ) S 70 70 70 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1",
			want: Stat{PID: 77, PPID: 70, Comm: "nginx: worker (x) ", UTime: 5, STime: 6},
		},
		{name: "empty", line: "", wantErr: "no (comm)"},
		{name: "no comm", line: "77 nginx S 70", wantErr: "no (comm)"},
		{name: "short", line: "77 (nginx) S 70 70", wantErr: "fields after comm"},
		{name: "bad pid", line: "x (nginx)" + tail, wantErr: "pid"},
		{name: "bad ppid", line: "12 (nginx) S one" + tail[3:], wantErr: "ppid"},
		{name: "bad utime", line: "77 (nginx) S 70 70 70 0 -1 0 0 0 0 0 five 6", wantErr: "utime"},
		{name: "bad stime", line: "77 (nginx) S 70 70 70 0 -1 0 0 0 0 0 5 -6", wantErr: "stime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseStat(%q) error = %v, want one about %q", tc.line, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseStat(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

func TestCPUSeconds(t *testing.T) {
	for _, tc := range []struct {
		s    Stat
		want float64
	}{
		{Stat{}, 0},
		{Stat{UTime: 250}, 2.5},
		{Stat{UTime: 250, STime: 75}, 3.25},
	} {
		if got := tc.s.CPUSeconds(); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%+v.CPUSeconds() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Mem
		wantErr    string
	}{
		{
			name: "both",
			text: "Name:\tferrum\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\n",
			want: Mem{RSS: 1 << 20, HWM: 2 << 20},
		},
		{name: "rss only", text: "VmRSS:\t 4 kB\n", want: Mem{RSS: 4096}},
		{name: "kernel thread", text: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "no VmRSS"},
		{name: "no unit", text: "VmRSS:\t 4\n", wantErr: "want"},
		{name: "other unit", text: "VmRSS:\t 4 MB\n", wantErr: "want"},
		{name: "not a number", text: "VmRSS:\t four kB\n", wantErr: "VmRSS"},
		{name: "bad peak", text: "VmHWM:\t 4 MB\nVmRSS:\t 4 kB\n", wantErr: "VmHWM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatus(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseStatus error = %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseStatus = %+v, %v; want %+v", got, err, tc.want)
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
			got, err := ParsePss(tc.text)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParsePss = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDescendants(t *testing.T) {
	all := []Stat{
		{PID: 1, PPID: 0}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 10},
		{PID: 13, PPID: 11}, {PID: 20, PPID: 1}, {PID: 21, PPID: 20},
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
		if got := Descendants(tc.root, all); !slices.Equal(got, tc.want) {
			t.Errorf("Descendants(%d) = %v, want %v", tc.root, got, tc.want)
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
	s, err := ReadStat(pid)
	if err != nil || s.PID != pid || s.PPID != os.Getppid() {
		t.Fatalf("ReadStat(self) = %+v, %v; want pid %d, ppid %d", s, err, pid, os.Getppid())
	}
	if m, err := ReadStatus(pid); err != nil || m.RSS == 0 || m.HWM < m.RSS {
		t.Errorf("ReadStatus(self) = %+v, %v; want RSS > 0 and HWM >= RSS", m, err)
	}
	if p, err := ReadPss(pid); err != nil || p == 0 {
		t.Errorf("ReadPss(self) = %d, %v; want > 0", p, err)
	}
	if tree := Tree(pid); len(tree) == 0 || tree[0] != pid {
		t.Errorf("Tree(self) = %v, want it to start with %d", tree, pid)
	}
	if tree := Tree(os.Getppid()); !slices.Contains(tree, pid) {
		t.Errorf("Tree(parent) = %v, want it to hold this process %d", tree, pid)
	}
	const gone = 1 << 30
	if _, err := ReadStat(gone); err == nil {
		t.Error("ReadStat of a pid that does not exist: no error")
	}
	if _, err := ReadStatus(gone); err == nil {
		t.Error("ReadStatus of a pid that does not exist: no error")
	}
	if _, err := ReadPss(gone); err == nil {
		t.Error("ReadPss of a pid that does not exist: no error")
	}
}
