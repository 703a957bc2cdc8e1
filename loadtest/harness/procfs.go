package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"ferrum/loadtest/procfs"
)

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
	busy := float64(after.busy()-before.busy()) / procfs.ClockTicks
	total := float64(after.total()-before.total()) / procfs.ClockTicks
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

// treeCPUSeconds sums utime+stime over pids; a process that has exited in
// the meantime counts nothing, which is why the tree is fixed before a pass.
func treeCPUSeconds(pids []int) float64 {
	var sum float64
	for _, pid := range pids {
		if s, err := procfs.ReadStat(pid); err == nil {
			sum += s.CPUSeconds()
		}
	}
	return sum
}

// treeMem sums VmRSS and VmHWM over pids; a process that has exited in
// the meantime counts nothing.
func treeMem(pids []int) procfs.Mem {
	var sum procfs.Mem
	for _, pid := range pids {
		if m, err := procfs.ReadStatus(pid); err == nil {
			sum.RSS += m.RSS
			sum.HWM += m.HWM
		}
	}
	return sum
}
