package proxy

import (
	"context"
	"net"
	"testing"
	"time"

	"ferrum/actors/proxy/sockio"
	"ferrum/proxyconf"
)

// TestPoolHandsOutTheMostRecentConnection: idle connections come back most
// recent first, so under light load the same few stay busy and the rest
// age out at idle_conn_timeout (taken in turn, every one would stay fresh
// for ever after a burst). The janitor's sweep keeps that order.
func TestPoolHandsOutTheMostRecentConnection(t *testing.T) {
	u := proxyconf.Default().Upstream
	u.MaxIdleConnsPerBackend = 4
	pool := newConnPool("127.0.0.1:1", u)
	var conns []*pconn
	for range 5 {
		near, far := net.Pipe()
		t.Cleanup(func() { near.Close(); far.Close() })
		pc := &pconn{conn: sockio.Wrap(near), pool: pool}
		pc.initPeek()
		conns = append(conns, pc)
	}
	for _, pc := range conns[:4] {
		pool.put(pc)
	}
	pool.put(conns[4]) // past max_idle_conns_per_backend: closed, not kept
	if n := pool.idle.len(); n != 4 {
		t.Fatalf("%d idle after 5 returns with room for 4", n)
	}

	// An aged connection at the bottom goes; the others keep their order.
	conns[0].idleAt = time.Now().Add(-2 * u.IdleConnTimeout)
	pool.idle.keepIf(func(pc *pconn) bool { return time.Since(pc.idleAt) < u.IdleConnTimeout })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for want := 3; want >= 1; want-- {
		got, err := pool.get(ctx, false)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got != conns[want] {
			t.Fatalf("got the connection returned %s, want the one returned %d-th", order(conns, got), want+1)
		}
	}
	if n := pool.idle.len(); n != 0 {
		t.Fatalf("%d idle after taking every kept connection", n)
	}
}

// order names pc's place in conns, for failure messages.
func order(conns []*pconn, pc *pconn) string {
	for i, c := range conns {
		if c == pc {
			return "as number " + string(rune('1'+i))
		}
	}
	return "never"
}
