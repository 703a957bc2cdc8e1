package main

import (
	"os"
	"strconv"
	"strings"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	tcpEstablished = "01"
	tcpTimeWait    = "06"
)

// tcpConn is one row of /proc/net/tcp: the two endpoints as "HEXADDR:HEXPORT"
// and the state.
type tcpConn struct {
	local, remote, state string
}

// port is the port of an endpoint written "0100007F:1F90".
func port(endpoint string) int {
	_, hex, ok := strings.Cut(endpoint, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseUint(hex, 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

// parseNetTCP parses a /proc/net/tcp text; malformed rows are skipped.
func parseNetTCP(text string) []tcpConn {
	var conns []tcpConn
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasSuffix(f[0], ":") {
			continue // the header, or a torn row
		}
		conns = append(conns, tcpConn{local: f[1], remote: f[2], state: f[3]})
	}
	return conns
}

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
func census(conns []tcpConn, backendPorts map[int]bool) connCensus {
	c := connCensus{closed: map[string]bool{}, seen: map[string]bool{}}
	for _, t := range conns {
		toBackend := backendPorts[port(t.remote)]
		if !toBackend && !backendPorts[port(t.local)] {
			continue
		}
		key := t.local + "-" + t.remote
		c.seen[key] = true
		switch {
		case t.state == tcpEstablished && toBackend:
			c.established++
		case t.state == tcpTimeWait:
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
	return census(parseNetTCP(string(b)), backendPorts)
}
