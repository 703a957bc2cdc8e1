package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// Linux reports them in hundredths of a second on every architecture ferrum
// builds for; asking sysconf(_SC_CLK_TCK) would need cgo.
const clockTicks = 100

// pidStat is what the tool reads from one /proc/<pid>/stat line.
type pidStat struct {
	pid, ppid int
	// ticks is utime+stime: the CPU time of every thread of the process,
	// its children not included, in clock ticks.
	ticks uint64
}

// cpuSeconds is the process's CPU time in seconds.
func (s pidStat) cpuSeconds() float64 { return float64(s.ticks) / clockTicks }

// parsePidStat parses one /proc/<pid>/stat line. The command name sits in
// parentheses and may itself hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parsePidStat(line string) (pidStat, error) {
	open := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return pidStat{}, fmt.Errorf("parse stat %.40q: no (comm)", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return pidStat{}, fmt.Errorf("parse stat %.40q: pid: %w", line, err)
	}
	// After the comm: state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime, so ppid is rest[1], utime rest[11].
	rest := strings.Fields(line[end+1:])
	if len(rest) < 13 {
		return pidStat{}, fmt.Errorf("parse stat %.40q: %d fields after comm, want at least 13", line, len(rest))
	}
	s := pidStat{pid: pid}
	if s.ppid, err = strconv.Atoi(rest[1]); err != nil {
		return pidStat{}, fmt.Errorf("parse stat %.40q: ppid: %w", line, err)
	}
	utime, err := strconv.ParseUint(rest[11], 10, 64)
	if err != nil {
		return pidStat{}, fmt.Errorf("parse stat %.40q: utime: %w", line, err)
	}
	stime, err := strconv.ParseUint(rest[12], 10, 64)
	if err != nil {
		return pidStat{}, fmt.Errorf("parse stat %.40q: stime: %w", line, err)
	}
	s.ticks = utime + stime
	return s, nil
}

// readPidStat reads /proc/<pid>/stat.
func readPidStat(pid int) (pidStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return pidStat{}, err
	}
	return parsePidStat(strings.TrimSpace(string(b)))
}

// memStatus is the resident memory of one process, in bytes.
type memStatus struct {
	// rss is VmRSS now, hwm (VmHWM) its peak since the process started.
	rss, hwm uint64
}

// parseStatus reads VmRSS and VmHWM ("VmRSS:	  12345 kB") from a
// /proc/<pid>/status text. It is an error when VmRSS is missing: that is a
// kernel thread or a process that has already exited, not one to measure.
func parseStatus(text string) (memStatus, error) {
	var m memStatus
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		n, err := parseKB(name, value)
		if err != nil {
			return memStatus{}, err
		}
		if name == "VmRSS" {
			m.rss, found = n, true
		} else {
			m.hwm = n
		}
	}
	if err := sc.Err(); err != nil {
		return memStatus{}, fmt.Errorf("parse status: %w", err)
	}
	if !found {
		return memStatus{}, fmt.Errorf("parse status: no VmRSS line")
	}
	return m, nil
}

// readStatus reads /proc/<pid>/status.
func readStatus(pid int) (memStatus, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return memStatus{}, err
	}
	return parseStatus(string(b))
}

// parsePss reads the Pss line ("Pss:    338 kB") of a
// /proc/<pid>/smaps_rollup text, in bytes. Pss shares each page among the
// processes that map it, so a sum over nginx's master and workers counts
// the pages they share once, where a sum of VmRSS counts them per process.
func parsePss(text string) (uint64, error) {
	for line := range strings.Lines(text) {
		name, value, ok := strings.Cut(line, ":")
		if ok && name == "Pss" {
			return parseKB(name, value)
		}
	}
	return 0, fmt.Errorf("parse smaps_rollup: no Pss line")
}

// readPss reads /proc/<pid>/smaps_rollup.
func readPss(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	return parsePss(string(b))
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

// descendants returns root followed by every process in all whose chain of
// parents leads to root, parents before their children.
func descendants(root int, all []pidStat) []int {
	children := map[int][]int{}
	for _, s := range all {
		children[s.ppid] = append(children[s.ppid], s.pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// processTree is root and its live descendants, found from the parent
// links in /proc: nginx's workers are children of the master the tool
// started. A process that exits during the scan is left out.
func processTree(root int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	all := make([]pidStat, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if s, err := parsePidStat(strings.TrimSpace(string(b))); err == nil {
			all = append(all, s)
		}
	}
	return descendants(root, all)
}

// treeMemory is the sum of VmRSS and of Pss over root and its
// descendants, and how many processes were summed. It fails only when
// root itself cannot be read; a worker that exits during the reading
// counts nothing.
func treeMemory(root int) (rss, pss uint64, procs int, err error) {
	for i, pid := range processTree(root) {
		m, err := readStatus(pid)
		if err != nil {
			if i == 0 {
				return 0, 0, 0, fmt.Errorf("read memory of pid %d: %w", pid, err)
			}
			continue
		}
		rss += m.rss
		procs++
		if p, err := readPss(pid); err == nil {
			pss += p
		}
	}
	return rss, pss, procs, nil
}
