package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"ferrum/actors"
	"ferrum/actors/proxy/headers"
	"ferrum/messages"
)

// tunnel is one upgraded connection (a WebSocket, say) copying bytes both
// ways between a client and a backend.
type tunnel struct {
	route, backend string
	closeOnce      sync.Once
	client         net.Conn
	upstream       io.ReadWriteCloser
}

// endBy makes both sides' reads and writes fail from at on, which ends the
// copies and so the tunnel.
func (t *tunnel) endBy(at time.Time) {
	_ = t.client.SetDeadline(at)
	if d, ok := t.upstream.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(at)
	}
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
// side closes; any other answer is forwarded as a normal response.
func (p *Proxy) upgrade(w http.ResponseWriter, r *http.Request, rt *route, target, protocol string, ex *exchange) {
	ctx, cancel := context.WithTimeout(r.Context(), rt.conf.Retry.TotalTimeout)
	defer cancel()
	hash, hasHash := p.hashKey(r, rt)
	idx, ok, err := rt.actor.Pick(ctx, make(chan messages.PickReply, 1), -1, hash, hasHash, false)
	if errors.Is(err, actors.ErrRetired) {
		// A reload replaced the route's actor after this request read
		// the table: ask the route as it is now.
		if next := p.table.Load().route(rt.conf.PathPrefix); next != nil && next != rt {
			rt = next
			idx, ok, err = rt.actor.Pick(ctx, make(chan messages.PickReply, 1), -1, hash, hasHash, false)
		}
	}
	if err != nil || !ok {
		f := failure{kind: KindNoHealthyBackend, status: http.StatusServiceUnavailable}
		if r.Context().Err() != nil {
			f = failure{kind: KindClientDisconnect, status: 499, client: true}
		}
		p.fail(w, ex, f)
		return
	}
	ex.unreported, ex.unreportedIdx = rt, idx
	b := rt.backends[idx]
	ex.backend, ex.attempts, ex.attemptStart = b, 1, time.Now()
	// Connection and Upgrade are hop-by-hop and were removed; an upgrade
	// is the one request that carries them on.
	r.Header["Connection"] = []string{"Upgrade"}
	r.Header["Upgrade"] = []string{protocol}
	ur := upstreamRequest{method: r.Method, target: target, host: r.Host, header: r.Header, upgrade: true}
	if !rt.conf.PreserveHost || ur.host == "" {
		ur.host = b.host // see forward
	}
	resp, err := b.pool.roundTrip(ctx, &ur, func() bool { return false })
	if err != nil {
		f := classify(err, nil, r.Context(), ctx)
		p.report(ex, rt, idx, f.client, 0, f.kind)
		p.fail(w, ex, f)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		p.stream(w, ex, rt, idx, resp)
		return
	}
	upstream, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		p.report(ex, rt, idx, false, 0, KindUpstreamInvalidResponse)
		p.fail(w, ex, failure{kind: KindUpstreamInvalidResponse, status: http.StatusBadGateway})
		return
	}
	hijacked, brw, err := http.NewResponseController(w).Hijack()
	client := unwatched(hijacked)
	if err != nil {
		upstream.Close()
		p.report(ex, rt, idx, true, 0, "")
		p.fail(w, ex, failure{kind: KindClientDisconnect, status: 499, client: true})
		return
	}
	ex.status = http.StatusSwitchingProtocols
	// The handshake succeeded: that is the backend's whole answer.
	p.report(ex, rt, idx, false, resp.StatusCode, "")
	t := &tunnel{route: rt.conf.PathPrefix, backend: b.url, client: client, upstream: upstream}
	p.tunnels.add(t)
	if rt.metrics != nil {
		rt.metrics.tunnels.Inc()
		defer rt.metrics.tunnels.Dec()
	}
	defer p.tunnels.remove(t)
	defer t.close()
	if err := writeSwitch(brw.Writer, resp, ex.id); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(client, upstream)
		t.close()
	}()
	// The client may have sent bytes after its request head; they sit in
	// brw's reader and go first, then the connection is read directly.
	if err := sendBuffered(upstream, brw.Reader); err == nil {
		_, _ = io.Copy(upstream, client)
	}
	t.close()
	<-done
}

// sendBuffered writes what r holds buffered to w.
func sendBuffered(w io.Writer, r *bufio.Reader) error {
	n := r.Buffered()
	if n == 0 {
		return nil
	}
	b, _ := r.Peek(n)
	_, err := w.Write(b)
	return err
}

// writeSwitch sends the backend's 101 head to the client.
func writeSwitch(w *bufio.Writer, resp *http.Response, requestID string) error {
	h := resp.Header.Clone()
	protocol := h.Get("Upgrade")
	headers.RemoveHopByHop(h)
	h.Set("Connection", "Upgrade")
	if protocol != "" {
		h.Set("Upgrade", protocol)
	}
	h.Set("X-Request-Id", requestID)
	if _, err := io.WriteString(w, "HTTP/1.1 101 Switching Protocols\r\n"); err != nil {
		return err
	}
	if err := h.Write(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	return w.Flush()
}
