//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	tcpEstablished = "01"
	tcpTimeWait    = "06"
	tcpCloseWait   = "08"
	tcpListen      = "0A"
)

// tcpSocket is one row of /proc/net/tcp or /proc/net/tcp6.
type tcpSocket struct {
	localPort, remotePort int
	state                 string
	inode                 uint64
}

// parseNetTCP reads a /proc/net/tcp or tcp6 text. Rows it cannot read are
// skipped: a socket may vanish while the kernel prints the table.
func parseNetTCP(text string) []tcpSocket {
	var out []tcpSocket
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		lp, rp := endpointPort(f[1]), endpointPort(f[2])
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if lp < 0 || rp < 0 || err != nil {
			continue
		}
		out = append(out, tcpSocket{localPort: lp, remotePort: rp, state: strings.ToUpper(f[3]), inode: inode})
	}
	return out
}

// endpointPort is the port of an endpoint written "0100007F:1F90", or -1.
func endpointPort(endpoint string) int {
	i := strings.LastIndexByte(endpoint, ':')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseUint(endpoint[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

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
func processSockets(pid int) ([]tcpSocket, error) {
	inodes, err := socketInodes(pid)
	if err != nil {
		return nil, err
	}
	var all []tcpSocket
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", table))
		if err != nil {
			continue // no IPv6 in this kernel
		}
		all = append(all, parseNetTCP(string(b))...)
	}
	return ownedSockets(all, inodes), nil
}

// ownedSockets keeps the sockets whose inode is in inodes.
func ownedSockets(all []tcpSocket, inodes map[uint64]bool) []tcpSocket {
	var out []tcpSocket
	for _, s := range all {
		if s.inode != 0 && inodes[s.inode] {
			out = append(out, s)
		}
	}
	return out
}

// countState counts the sockets to remotePort in state.
func countState(socks []tcpSocket, remotePort int, state string) int {
	n := 0
	for _, s := range socks {
		if s.remotePort == remotePort && s.state == state {
			n++
		}
	}
	return n
}
