package proxy

import (
	"context"
	"time"
)

// sweepEvery is how often the janitor looks at idle upstream connections: a
// connection the backend closed is freed within this long, and one idle
// past idle_conn_timeout is closed at most this late.
const sweepEvery = 2 * time.Second

// Janitor is the service that keeps the upstream pools clean: every
// sweepEvery it closes idle connections older than their pool's
// idle_conn_timeout and those the backend has closed (a peek that does not
// wait tells), so none lingers in CLOSE_WAIT until a request happens to
// take it. One goroutine for every pool, none per connection. Run it under
// the supervisor.
type Janitor struct{ pools *Pools }

// Janitor returns the janitor of the server's pools.
func (s *Server) Janitor() *Janitor { return &Janitor{pools: s.pools} }

// Name identifies the janitor in supervisor logs.
func (j *Janitor) Name() string { return "upstream pool janitor" }

// Run sweeps until ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			for _, cp := range j.pools.list() {
				cp.sweep(now)
			}
		}
	}
}

// sweep checks each connection idle in the pool now once: those that aged
// or were closed by the backend are closed, the others stay in their place.
// The liveness checks are made under the pool's lock: a peek that does not
// wait, about a microsecond each, every sweepEvery.
func (p *connPool) sweep(now time.Time) {
	dead := p.idle.keepIf(func(pc *pconn) bool {
		return now.Sub(pc.idleAt) < p.settings.IdleConnTimeout && pc.alive()
	})
	for _, pc := range dead {
		pc.conn.Close()
	}
}
