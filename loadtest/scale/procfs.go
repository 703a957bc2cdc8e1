package main

import (
	"fmt"

	"ferrum/loadtest/procfs"
)

// treeMemory is the sum of VmRSS and of Pss over root and its
// descendants, and how many processes were summed. It fails only when
// root itself cannot be read; a worker that exits during the reading
// counts nothing.
func treeMemory(root int) (rss, pss uint64, procs int, err error) {
	for i, pid := range procfs.Tree(root) {
		m, err := procfs.ReadStatus(pid)
		if err != nil {
			if i == 0 {
				return 0, 0, 0, fmt.Errorf("read memory of pid %d: %w", pid, err)
			}
			continue
		}
		rss += m.RSS
		procs++
		if p, err := procfs.ReadPss(pid); err == nil {
			pss += p
		}
	}
	return rss, pss, procs, nil
}
