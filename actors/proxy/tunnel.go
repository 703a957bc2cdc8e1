package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"ferrum/actors/proxy/wire"
)

// tunnel is one upgraded connection (a WebSocket, say) copying bytes both
// ways between a client and a backend.
type tunnel struct {
	route, backend string
	closeOnce      sync.Once
	client         net.Conn
	upstream       net.Conn
}

// endBy makes both sides' reads and writes fail from at on, which ends the
// copies and so the tunnel.
func (t *tunnel) endBy(at time.Time) {
	_ = t.client.SetDeadline(at)
	_ = t.upstream.SetDeadline(at)
}

func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		t.client.Close()
		t.upstream.Close()
	})
}

// tunnels is the set of open tunnels. It is touched once when a tunnel opens
// and once when it closes, never per byte, so a mutex is cheap enough.
type tunnels struct {
	mu   sync.Mutex
	set  map[*tunnel]struct{}
	zero chan struct{} // closed and replaced whenever the set becomes empty
}

func (ts *tunnels) add(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.set == nil {
		ts.set = map[*tunnel]struct{}{}
	}
	ts.set[t] = struct{}{}
}

func (ts *tunnels) remove(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.set, t)
	if len(ts.set) == 0 && ts.zero != nil {
		close(ts.zero)
		ts.zero = nil
	}
}

// each calls f for every open tunnel, under the lock.
func (ts *tunnels) each(f func(*tunnel)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for t := range ts.set {
		f(t)
	}
}

// empty returns a channel closed once no tunnel is open.
func (ts *tunnels) empty() <-chan struct{} {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	c := make(chan struct{})
	if len(ts.set) == 0 {
		close(c)
		return c
	}
	if ts.zero == nil {
		ts.zero = make(chan struct{})
	}
	return ts.zero
}

// CloseTunnelsUnless ends, grace from now, every open tunnel whose route
// and backend keep does not report as still configured. A reload calls it
// so a tunnel to a removed backend ends after graceful_shutdown_timeout
// while one to a kept backend is never touched. It arms no timer: both
// sides' deadlines end the copies, and the tunnel closes itself.
func (p *Proxy) CloseTunnelsUnless(keep func(route, backend string) bool, grace time.Duration) {
	at := time.Now().Add(grace)
	p.tunnels.each(func(t *tunnel) {
		if !keep(t.route, t.backend) {
			t.endBy(at)
		}
	})
}

// DrainTunnels waits until every tunnel closed or ctx ends, then closes
// those still open.
func (p *Proxy) DrainTunnels(ctx context.Context) {
	select {
	case <-p.tunnels.empty():
	case <-ctx.Done():
	}
	p.tunnels.each(func(t *tunnel) { t.close() })
}

// upgrade forwards a request asking for a protocol upgrade. A 101 answer
// turns the client connection into a tunnel to the backend until either
// side closes; any other answer is forwarded as a normal response. It
// makes one attempt, through the same attempt type as forward.
func (cc *clientConn) upgrade(key hashKey) {
	r := &cc.r
	at := attempt{cc: cc, rt: r.route, n: 1, avoid: -1}
	if ok, err := at.pick(key, false, nil); err != nil || !ok {
		cc.finishWith(lastWord{}.orNoBackend(cc))
		return
	}
	ur := &cc.upr
	*ur = upRequest{upgrade: true, isHead: r.head, deadline: time.Now().Add(at.rt.conf.Retry.TotalTimeout)}
	pc, err := at.send(ur, 0, false)
	if err != nil {
		f := classify(err, cc.wait.gone.Load())
		cc.charge(at.rt, at.idx, f)
		cc.fail(f)
		return
	}
	if pc.resp.Status != http.StatusSwitchingProtocols {
		cc.stream(at.rt, at.idx, pc)
		return
	}
	cc.tunnel(at.rt, at.idx, pc)
}

// tunnel sends the backend's 101 to the client and copies bytes both ways
// until either side closes. The connection ends with it.
func (cc *clientConn) tunnel(rt *route, idx int, pc *pconn) {
	r := &cc.r
	r.abort = true // nothing follows a tunnel on this connection
	cc.state.Store(connTunnel)
	cc.wait.stop()
	cc.wait.use(nil)
	pc.user = nil
	resp := &pc.resp
	b := wire.AppendStatusLine(cc.head[:0], http.StatusSwitchingProtocols)
	b = appendFields(b, resp.Fields, resp.HasConnection)
	b = append(b, "Connection: Upgrade\r\n"...)
	if len(resp.Upgrade) > 0 {
		b = wire.AppendField(b, "Upgrade", resp.Upgrade)
	}
	b = wire.AppendField(b, "X-Request-Id", cc.idBuf)
	b = append(b, "\r\n"...)
	cc.head = b
	_ = cc.c.SetDeadline(time.Time{})
	cc.w.set = time.Time{}
	if _, err := cc.c.Write(b); err != nil {
		pc.conn.Close()
		cc.report(rt, idx, true, 0, "")
		r.status, r.kind = 499, KindClientDisconnect
		return
	}
	r.status, r.started = http.StatusSwitchingProtocols, true
	// The handshake succeeded: that is the backend's whole answer.
	cc.report(rt, idx, false, http.StatusSwitchingProtocols, "")
	t := &tunnel{route: rt.conf.PathPrefix, backend: rt.backends[idx].url, client: cc.c, upstream: pc.conn}
	cc.p.tunnels.add(t)
	rt.metrics.tunnel(1)
	defer rt.metrics.tunnel(-1)
	defer cc.p.tunnels.remove(t)
	defer t.close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// What the backend sent after its 101 is in pc's buffer: first.
		_, _ = io.Copy(cc.c, pc.rd)
		t.close()
	}()
	// Likewise what the client sent after its request head.
	_, _ = io.Copy(pc.conn, cc.rd)
	t.close()
	<-done
}
