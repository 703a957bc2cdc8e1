package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc. Linux has
// reported them in hundredths of a second on every architecture ferrum
// builds for; reading sysconf(_SC_CLK_TCK) would need cgo.
const clockTicks = 100

// cpuTimes is the aggregate "cpu" line of /proc/stat, in clock ticks.
type cpuTimes struct {
	user, nice, system, idle, iowait, irq, softirq, steal uint64
}

// total is the time all CPUs spent in any state. guest and guest_nice are
// left out because the kernel already counts them in user and nice.
func (c cpuTimes) total() uint64 {
	return c.user + c.nice + c.system + c.idle + c.iowait + c.irq + c.softirq + c.steal
}

// parseProcStat reads the aggregate "cpu" line of a /proc/stat text.
func parseProcStat(text string) (cpuTimes, error) {
	for line := range strings.Lines(text) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		// Kernels before 2.6.11 have no steal column; treat it as zero.
		if len(fields) < 8 {
			return cpuTimes{}, fmt.Errorf("parse /proc/stat: cpu line has %d fields, want at least 8", len(fields))
		}
		var v [8]uint64
		for i := range v {
			if i+1 >= len(fields) {
				break
			}
			n, err := strconv.ParseUint(fields[i+1], 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("parse /proc/stat: cpu field %d: %w", i+1, err)
			}
			v[i] = n
		}
		return cpuTimes{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}, nil
	}
	return cpuTimes{}, errors.New("parse /proc/stat: no aggregate cpu line")
}

// readCPUTimes reads /proc/stat now.
func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseProcStat(string(b))
}

// busy is the time all CPUs spent doing work, for anyone.
func (c cpuTimes) busy() uint64 {
	return c.total() - c.idle - c.iowait
}

// otherPercent is the share of all CPU time between before and after that
// went to work other than ownSeconds of CPU (the processes of the
// benchmark itself): other programs on the machine, the kernel's own
// threads, and steal. It is 0 when no time passed.
func otherPercent(before, after cpuTimes, ownSeconds float64) float64 {
	if after.total() <= before.total() {
		return 0
	}
	busy := float64(after.busy()-before.busy()) / clockTicks
	total := float64(after.total()-before.total()) / clockTicks
	return 100 * max(0, busy-ownSeconds) / total
}

// stealPercent is the share of all CPU time between before and after that
// the hypervisor gave to someone else. It is 0 when no time passed.
func stealPercent(before, after cpuTimes) float64 {
	total := after.total() - before.total()
	if total == 0 || after.total() < before.total() {
		return 0
	}
	return 100 * float64(after.steal-before.steal) / float64(total)
}

// procStat is what the harness needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	comm      string
	// utime and stime are the process's own CPU time in clock ticks, its
	// threads included and its children not.
	utime, stime uint64
}

// cpuSeconds is utime+stime in seconds.
func (s procStat) cpuSeconds() float64 {
	return float64(s.utime+s.stime) / clockTicks
}

// parsePidStat parses one /proc/<pid>/stat line. The command name sits in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func parsePidStat(line string) (procStat, error) {
	open := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: no (comm)", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: pid: %w", line, err)
	}
	// After the comm: state(3) ppid(4) pgrp session tty_nr tpgid flags
	// minflt cminflt majflt cmajflt utime(14) stime(15).
	rest := strings.Fields(line[end+1:])
	if len(rest) < 13 {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: %d fields after comm, want at least 13", line, len(rest))
	}
	s := procStat{pid: pid, comm: line[open+1 : end]}
	if s.ppid, err = strconv.Atoi(rest[1]); err != nil {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: ppid: %w", line, err)
	}
	if s.utime, err = strconv.ParseUint(rest[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: utime: %w", line, err)
	}
	if s.stime, err = strconv.ParseUint(rest[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("parse pid stat %.40q: stime: %w", line, err)
	}
	return s, nil
}

// readPidStat reads /proc/<pid>/stat.
func readPidStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parsePidStat(string(bytes.TrimSpace(b)))
}

// memStatus is the resident memory of one process, in bytes.
type memStatus struct {
	rss, hwm uint64 // VmRSS now, VmHWM its peak so far
}

// parseStatusMem reads VmRSS and VmHWM ("VmRSS:   12345 kB") from a
// /proc/<pid>/status text. A kernel thread has neither; both stay 0.
func parseStatusMem(text string) (memStatus, error) {
	var m memStatus
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return memStatus{}, fmt.Errorf("parse status %s: %q, want \"<n> kB\"", name, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return memStatus{}, fmt.Errorf("parse status %s: %w", name, err)
		}
		if name == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	return m, sc.Err()
}

// readStatusMem reads /proc/<pid>/status.
func readStatusMem(pid int) (memStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memStatus{}, err
	}
	return parseStatusMem(string(b))
}

// processTree is root and every live descendant of it, found by scanning
// /proc for parent links: nginx's workers are children of the master the
// harness started. Processes that vanish during the scan are skipped.
func processTree(root int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var all []procStat
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if s, err := parsePidStat(string(bytes.TrimSpace(b))); err == nil {
			all = append(all, s)
		}
	}
	return descendants(root, all)
}

// descendants returns root followed by every process in all whose parent
// chain leads to root, parents before children.
func descendants(root int, all []procStat) []int {
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

// treeCPUSeconds sums utime+stime over pids; a process that has exited in
// the meantime counts nothing, which is why the tree is fixed before a pass.
func treeCPUSeconds(pids []int) float64 {
	var sum float64
	for _, pid := range pids {
		if s, err := readPidStat(pid); err == nil {
			sum += s.cpuSeconds()
		}
	}
	return sum
}

// treeMem sums VmRSS and VmHWM over pids.
func treeMem(pids []int) memStatus {
	var sum memStatus
	for _, pid := range pids {
		if m, err := readStatusMem(pid); err == nil {
			sum.rss += m.rss
			sum.hwm += m.hwm
		}
	}
	return sum
}
