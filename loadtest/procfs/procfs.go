// Package procfs reads what the load-test commands measure about a process
// from Linux's /proc: its CPU time and parent (/proc/<pid>/stat), its
// resident memory (/proc/<pid>/status, /proc/<pid>/smaps_rollup), the tree
// of processes under it, and the TCP sockets of its network namespace
// (/proc/net/tcp). The Parse functions are pure and work on any system; the
// Read functions need Linux.
//
// Every function may be called from any goroutine. A Read function reads
// /proc once, when called, and returns a value the caller owns.
package procfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of the CPU times in /proc. Linux has
// reported them in hundredths of a second on every architecture ferrum
// builds for; asking sysconf(_SC_CLK_TCK) would need cgo.
const ClockTicks = 100

// Stat is what the load tests read from one /proc/<pid>/stat line.
type Stat struct {
	PID, PPID int
	// Comm is the command name, without the parentheses around it.
	Comm string
	// UTime and STime are the process's own CPU time in clock ticks, its
	// threads included and its children not.
	UTime, STime uint64
}

// CPUSeconds is UTime+STime in seconds.
func (s Stat) CPUSeconds() float64 {
	return float64(s.UTime+s.STime) / ClockTicks
}

// ParseStat parses one /proc/<pid>/stat line. The command name sits in
// parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func ParseStat(line string) (Stat, error) {
	open := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("parse stat %.40q: no (comm)", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat %.40q: pid: %w", line, err)
	}
	// After the comm: state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime, so ppid is rest[1], utime rest[11].
	rest := strings.Fields(line[end+1:])
	if len(rest) < 13 {
		return Stat{}, fmt.Errorf("parse stat %.40q: %d fields after comm, want at least 13", line, len(rest))
	}
	s := Stat{PID: pid, Comm: line[open+1 : end]}
	if s.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return Stat{}, fmt.Errorf("parse stat %.40q: ppid: %w", line, err)
	}
	if s.UTime, err = strconv.ParseUint(rest[11], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("parse stat %.40q: utime: %w", line, err)
	}
	if s.STime, err = strconv.ParseUint(rest[12], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("parse stat %.40q: stime: %w", line, err)
	}
	return s, nil
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	return readStatFile(pidPath(pid, "stat"))
}

func readStatFile(path string) (Stat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(strings.TrimSpace(string(b)))
}

// Mem is the resident memory of one process, in bytes.
type Mem struct {
	// RSS is VmRSS now, HWM (VmHWM) its peak since the process started.
	RSS, HWM uint64
}

// ParseStatus reads VmRSS and VmHWM ("VmRSS:	  12345 kB") from a
// /proc/<pid>/status text. It is an error when VmRSS is missing: that is a
// kernel thread or a process that has already exited, not one to measure.
func ParseStatus(text string) (Mem, error) {
	var m Mem
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		n, err := parseKB(name, value)
		if err != nil {
			return Mem{}, err
		}
		if name == "VmRSS" {
			m.RSS, found = n, true
		} else {
			m.HWM = n
		}
	}
	if err := sc.Err(); err != nil {
		return Mem{}, fmt.Errorf("parse status: %w", err)
	}
	if !found {
		return Mem{}, fmt.Errorf("parse status: no VmRSS line")
	}
	return m, nil
}

// ReadStatus reads /proc/<pid>/status.
func ReadStatus(pid int) (Mem, error) {
	b, err := os.ReadFile(pidPath(pid, "status"))
	if err != nil {
		return Mem{}, err
	}
	return ParseStatus(string(b))
}

// ParsePss reads the Pss line ("Pss:    338 kB") of a
// /proc/<pid>/smaps_rollup text, in bytes. Pss shares each page among the
// processes that map it, so a sum over nginx's master and workers counts
// the pages they share once, where a sum of VmRSS counts them per process.
func ParsePss(text string) (uint64, error) {
	for line := range strings.Lines(text) {
		name, value, ok := strings.Cut(line, ":")
		if ok && name == "Pss" {
			return parseKB(name, value)
		}
	}
	return 0, fmt.Errorf("parse smaps_rollup: no Pss line")
}

// ReadPss reads /proc/<pid>/smaps_rollup.
func ReadPss(pid int) (uint64, error) {
	b, err := os.ReadFile(pidPath(pid, "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	return ParsePss(string(b))
}

// parseKB turns the value of a "<name>: <n> kB" line into bytes.
func parseKB(name, value string) (uint64, error) {
	fields := strings.Fields(value)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("parse %s: %q, want \"<n> kB\"", name, strings.TrimSpace(value))
	}
	kb, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", name, err)
	}
	return kb << 10, nil
}

// Descendants returns root followed by every process in all whose chain of
// parents leads to root, parents before their children.
func Descendants(root int, all []Stat) []int {
	children := map[int][]int{}
	for _, s := range all {
		children[s.PPID] = append(children[s.PPID], s.PID)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// Tree is root and its live descendants, found from the parent links in
// /proc: nginx's workers are children of the master a load test started.
// A process that exits during the scan is left out; root is always first,
// even when it has exited.
func Tree(root int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	all := make([]Stat, 0, len(paths))
	for _, p := range paths {
		if s, err := readStatFile(p); err == nil {
			all = append(all, s)
		}
	}
	return Descendants(root, all)
}

// pidPath is the path of file in pid's /proc directory.
func pidPath(pid int, file string) string {
	return filepath.Join("/proc", strconv.Itoa(pid), file)
}
