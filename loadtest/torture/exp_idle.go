//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Idle connection settings.
const (
	idleConns   = 2000
	idleTimeout = 2 * time.Second // both idle_timeout and client_header_timeout
	// idleMargin is how late after its timeout a connection may close.
	idleMargin = 2 * time.Second
	// idleFdSlack is how far above its baseline ferrum's fd count may stay
	// once the idle connections are gone.
	idleFdSlack = 10
	// idleSpare is the file descriptors the torture command needs beyond
	// its client connections.
	idleSpare = 512
)

// idleConn is one client connection of idle_connections. Its goroutine
// writes every field before it reports the connection done.
type idleConn struct {
	// silent connections send nothing (client_header_timeout applies);
	// the others send one keep-alive request first (idle_timeout applies).
	silent    bool
	opened    bool
	status    int
	idleSince time.Time
	// closedBy is when ferrum closed it (EOF or reset), zero if it did not
	// before the torture command gave up on it.
	closedBy time.Time
	err      string
}

// idleMeasure is what idle_connections saw.
type idleMeasure struct {
	opened, closedInTime, closedLate, neverClosed int
	// slowest is the longest time from going idle to being closed.
	slowest    time.Duration
	dialErrors []string
	// midStatus is a normal request's status while the idle connections
	// were open.
	midStatus int
	// fdBase, fdPeak and fdAfter are ferrum's fd counts before, with and
	// after the idle connections, not counting its upstream connections:
	// the one-request connections leave some in its pool, as they should.
	fdBase, fdPeak, fdAfter int
	// upstreamAfter is the upstream connections left out of fdAfter.
	upstreamAfter int
	alive         bool
}

func judgeIdle(m idleMeasure) verdict {
	j := newJudge("idle_connections")
	j.note("opened", m.opened)
	j.note("closed_in_time", m.closedInTime)
	j.note("late", m.closedLate)
	j.note("never", m.neverClosed)
	j.note("slowest_close", m.slowest.Round(10*time.Millisecond))
	j.note("fds", fmt.Sprintf("%d/%d/%d", m.fdBase, m.fdPeak, m.fdAfter))
	j.note("pooled_upstream", m.upstreamAfter)
	j.need(m.opened == idleConns, "opened %d of %d connections (%v)", m.opened, idleConns, m.dialErrors)
	j.need(m.closedInTime == m.opened, "%d closed late and %d never, of %d; want all within %v + %v",
		m.closedLate, m.neverClosed, m.opened, idleTimeout, idleMargin)
	j.need(m.midStatus == http.StatusOK, "a normal request among the idle connections got %d, want 200", m.midStatus)
	j.need(m.fdAfter <= m.fdBase+idleFdSlack, "ferrum holds %d fds besides its upstream pool afterwards, baseline %d", m.fdAfter, m.fdBase)
	j.need(m.alive, "ferrum died")
	return j.verdict()
}

// count sums the connections up against their deadline.
func (m *idleMeasure) count(conns []*idleConn) {
	for _, c := range conns {
		if !c.opened {
			if len(m.dialErrors) < maxSamples {
				m.dialErrors = append(m.dialErrors, c.err)
			}
			continue
		}
		m.opened++
		if c.closedBy.IsZero() {
			m.neverClosed++
			continue
		}
		d := c.closedBy.Sub(c.idleSince)
		m.slowest = max(m.slowest, d)
		if d <= idleTimeout+idleMargin {
			m.closedInTime++
		} else {
			m.closedLate++
		}
	}
}

func idleConnections(r *run) verdict {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return failed("idle_connections", err)
	}
	if need := uint64(idleConns + idleSpare); lim.Cur < need {
		return skipped("idle_connections", fmt.Sprintf("RLIMIT_NOFILE is %d (hard %d); %d connections need %d: raise the hard limit (ulimit -Hn)",
			lim.Cur, lim.Max, idleConns, need))
	}
	b, err := r.localBackend("idle", nil, nil)
	if err != nil {
		return failed("idle_connections", err)
	}
	c := baseConf("idle_connections: thousands of idle clients")
	c.server = append(c.server, kv{"idle_timeout", idleTimeout.String()}, kv{"client_header_timeout", idleTimeout.String()})
	c.routes = []routeConf{{prefix: "/k", backends: []string{b.url}}}
	f, err := r.startFerrum(c, wrapper{})
	if err != nil {
		return failed("idle_connections", err)
	}
	// One request first, so the baseline includes the upstream connection
	// a normal request leaves in ferrum's pool.
	getText(r.ctx, f.base+"/k/x")
	var m idleMeasure
	if m.fdBase, _, err = fdsBesidesUpstream(f.Pid(), b.port); err != nil {
		return failed("idle_connections", err)
	}

	conns := make([]*idleConn, idleConns)
	var wg sync.WaitGroup
	dials := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range dials {
				conns[i] = &idleConn{silent: i%2 == 0}
				openIdle(r.ctx, f.addr, conns[i], &wg)
			}
		})
	}
	for i := range conns {
		dials <- i
	}
	close(dials)
	r.logf("%d connections opening; waiting for ferrum to close them", idleConns)

	sleep(r.ctx, 500*time.Millisecond)
	m.fdPeak, _, _ = fdsBesidesUpstream(f.Pid(), b.port)
	sleep(r.ctx, 500*time.Millisecond)
	m.midStatus, _, _ = getText(r.ctx, f.base+"/k/x")
	wg.Wait()
	m.count(conns)
	pollFor(r.ctx, 3*time.Second, 100*time.Millisecond, func() bool {
		m.fdAfter, m.upstreamAfter, _ = fdsBesidesUpstream(f.Pid(), b.port)
		return m.fdAfter <= m.fdBase+idleFdSlack
	})
	m.alive = f.Alive()
	return judgeIdle(m)
}

// fdsBesidesUpstream is pid's open fd count less its sockets to
// backendPort, and that socket count.
func fdsBesidesUpstream(pid, backendPort int) (fds, upstream int, err error) {
	total, err := fdCount(pid)
	if err != nil {
		return 0, 0, err
	}
	socks, err := processSockets(pid)
	if err != nil {
		return 0, 0, err
	}
	for _, s := range socks {
		if s.RemotePort() == backendPort {
			upstream++
		}
	}
	return total - upstream, upstream, nil
}

// openIdle dials addr for c and hands the connection to a goroutine of its
// own (counted in wg) that waits for ferrum to close it. It returns once
// the connection is idle, or failed to open.
func openIdle(ctx context.Context, addr string, c *idleConn, wg *sync.WaitGroup) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		c.err = err.Error()
		return
	}
	c.opened = true
	br := bufio.NewReader(conn)
	if !c.silent {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET /k/x HTTP/1.1\r\nHost: torture\r\n\r\n"); err == nil {
			if resp, err := http.ReadResponse(br, nil); err == nil {
				c.status = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	c.idleSince = time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.Close()
		// Give up well after the margin: a later close is as bad as none.
		conn.SetDeadline(c.idleSince.Add(idleTimeout + idleMargin + 3*time.Second))
		// Whatever ferrum sends before it closes (a 408, say) is read
		// and dropped; io.Copy returns nil at EOF.
		_, err := io.Copy(io.Discard, br)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.err = "still open"
			return
		}
		c.closedBy = time.Now()
	}()
}
