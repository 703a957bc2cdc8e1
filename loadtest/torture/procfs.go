//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ferrum/loadtest/procfs"
)

// socketInode reads the inode from an fd link target "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	return n, err == nil
}

// fdCount is the number of open file descriptors of pid.
func fdCount(pid int) (int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return 0, fmt.Errorf("count fds of %d: %w", pid, err)
	}
	return len(ents), nil
}

// socketInodes is the set of socket inodes pid has open.
func socketInodes(pid int) (map[uint64]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list fds of %d: %w", pid, err)
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since the listing
		}
		if n, ok := socketInode(link); ok {
			out[n] = true
		}
	}
	return out, nil
}

// processSockets is every TCP socket (IPv4 and IPv6) that pid holds open.
func processSockets(pid int) ([]procfs.Socket, error) {
	inodes, err := socketInodes(pid)
	if err != nil {
		return nil, err
	}
	var all []procfs.Socket
	for _, table := range []string{"tcp", "tcp6"} {
		socks, err := procfs.ReadNetTCP(pid, table)
		if err != nil {
			continue // no IPv6 in this kernel
		}
		all = append(all, socks...)
	}
	return ownedSockets(all, inodes), nil
}

// ownedSockets keeps the sockets whose inode is in inodes.
func ownedSockets(all []procfs.Socket, inodes map[uint64]bool) []procfs.Socket {
	var out []procfs.Socket
	for _, s := range all {
		if s.Inode != 0 && inodes[s.Inode] {
			out = append(out, s)
		}
	}
	return out
}

// countState counts the sockets to remotePort in state.
func countState(socks []procfs.Socket, remotePort int, state string) int {
	n := 0
	for _, s := range socks {
		if s.RemotePort() == remotePort && s.State == state {
			n++
		}
	}
	return n
}
