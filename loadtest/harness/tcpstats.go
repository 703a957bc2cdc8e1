package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// tcpCounters are the kernel's TCP counters a drill watches across each
// drain, to tell where wrk's socket errors came from. They count for the
// whole host, so other programs' connections add to them, but on loopback
// under a drill's load a burst of them lines up with the drain that caused
// it.
var tcpCounters = []struct{ key, meaning string }{
	// The process closed a connection that held request bytes it had not
	// read: the kernel answers with a reset, and the client's read fails.
	{"TcpExt.TCPAbortOnData", "connections closed with unread data (reset)"},
	// Resets sent for any reason, such as a request sent to a connection
	// the process had already closed.
	{"Tcp.OutRsts", "resets sent"},
	// The accept queue of a listening socket was full: connection attempts
	// dropped, which clients see as a slow connect or a timeout.
	{"TcpExt.ListenOverflows", "accept queue overflows"},
}

// parseSNMP reads the "Group: name name ..." / "Group: value value ..."
// line pairs of /proc/net/snmp and /proc/net/netstat into counters keyed
// "Group.name". Rows it cannot pair or read are skipped.
func parseSNMP(text string) map[string]int64 {
	out := map[string]int64{}
	var names []string
	var group string
	for line := range strings.Lines(text) {
		g, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil || g != group || len(f) != len(names) {
			group, names = g, f
			continue
		}
		for i, name := range names {
			if v, err := strconv.ParseInt(f[i], 10, 64); err == nil {
				out[g+"."+name] = v
			}
		}
		names = nil
	}
	return out
}

// readTCPCounters reads the host's TCP counters now; empty when /proc
// cannot be read.
func readTCPCounters() map[string]int64 {
	out := map[string]int64{}
	for _, path := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for k, v := range parseSNMP(string(b)) {
			out[k] = v
		}
	}
	return out
}

// counterDeltas words how the watched counters grew from before to after,
// leaving out those that did not: "3 connections closed with unread data
// (reset) (TcpExt.TCPAbortOnData)". It is "" when none grew.
func counterDeltas(before, after map[string]int64) string {
	var parts []string
	for _, c := range tcpCounters {
		b, okb := before[c.key]
		a, oka := after[c.key]
		if okb && oka && a > b {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", a-b, c.meaning, c.key))
		}
	}
	return strings.Join(parts, ", ")
}
