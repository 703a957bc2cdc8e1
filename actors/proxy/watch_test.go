package proxy

import (
	"net"
	"testing"
	"time"

	"ferrum/actors/proxy/sockio"
	"ferrum/proxyconf"
)

// TestWatchNeverExpiresAReleasedConnection: once a request's upstream
// connection went back to its pool (another request may hold it now), the
// client of the first request leaving must not expire it. Under load this
// turned other clients' answers into 504s.
func TestWatchNeverExpiresAReleasedConnection(t *testing.T) {
	client, peer := net.Pipe()
	defer peer.Close()
	cc := newClientConn(&Proxy{}, client)
	defer cc.finish()

	up, far := net.Pipe()
	defer far.Close()
	pool := newConnPool("unused", proxyconf.Default().Upstream)
	pc := &pconn{conn: sockio.Wrap(up), pool: pool}
	pc.user = &cc.wait
	pc.user.use(pc)
	pc.finish(true) // the answer was read whole: back to the pool

	cc.wait.start()
	peer.Close() // the client leaves
	select {
	case <-cc.wait.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch never saw the client leave")
	}
	if !cc.wait.gone.Load() {
		t.Fatal("the watch did not mark the client gone")
	}
	cc.wait.state.Store(watchOff)

	taken := pool.idle.pop()
	go func() { b := make([]byte, 1); _, _ = far.Read(b) }()
	if _, err := taken.conn.Write([]byte("x")); err != nil {
		t.Fatalf("the pooled connection, now another request's, was expired by the first client's watch: %v", err)
	}
}
