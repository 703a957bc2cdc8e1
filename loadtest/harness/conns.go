package main

import (
	"os"

	"ferrum/loadtest/procfs"
)

// connCensus is what the harness learns about connections to the backends
// from one look at /proc/net/tcp.
type connCensus struct {
	// established counts open connections whose far end is a backend, seen
	// from the connecting side.
	established int
	// closed holds the TIME_WAIT rows touching a backend port, and seen
	// every row touching one, in any state; both are keyed by the two
	// endpoints. A connection closed during a pass is a closed key that was
	// not seen at its start: Linux keeps the row for 60 s, longer than the
	// gap between two looks, and a connection still closing at the start
	// (as wrk's, just after a warm-up) was seen then.
	closed, seen map[string]bool
}

// census looks at conns for connections to any of backendPorts.
func census(conns []procfs.Socket, backendPorts map[int]bool) connCensus {
	c := connCensus{closed: map[string]bool{}, seen: map[string]bool{}}
	for _, t := range conns {
		toBackend := backendPorts[t.RemotePort()]
		if !toBackend && !backendPorts[t.LocalPort()] {
			continue
		}
		key := t.Local + "-" + t.Remote
		c.seen[key] = true
		switch {
		case t.State == procfs.TCPEstablished && toBackend:
			c.established++
		case t.State == procfs.TCPTimeWait:
			c.closed[key] = true
		}
	}
	return c
}

// newlyClosed counts the TIME_WAIT rows in after whose connection was not
// seen in before.
func newlyClosed(before, after connCensus) int {
	n := 0
	for k := range after.closed {
		if !before.seen[k] {
			n++
		}
	}
	return n
}

// readCensus reads /proc/net/tcp now. The harness listens on 127.0.0.1
// only, so the IPv4 table holds every connection it cares about.
func readCensus(backendPorts map[int]bool) connCensus {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return connCensus{closed: map[string]bool{}, seen: map[string]bool{}}
	}
	return census(procfs.ParseNetTCP(string(b)), backendPorts)
}
