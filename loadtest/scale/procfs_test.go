package main

import (
	"os"
	"testing"
)

// TestTreeMemoryOfSelf sums this test's own memory, as the running
// kernel reports it.
func TestTreeMemoryOfSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	rss, pss, procs, err := treeMemory(pid)
	if err != nil || rss == 0 || pss == 0 || procs < 1 {
		t.Fatalf("treeMemory(self) = %d, %d, %d, %v; want non-zero memory of at least one process", rss, pss, procs, err)
	}
	if _, _, _, err := treeMemory(1 << 30); err == nil {
		t.Error("treeMemory of a pid that does not exist: no error")
	}
}
