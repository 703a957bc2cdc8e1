package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/actors/proxy/wire"
)

// watchDelay is how long a request waits on its backend's answer before
// its connection's reader is parked on the client, to notice the client
// leave. A backend that answers sooner costs no read and no goroutine; the
// wait is timed by the upstream read deadline the attempt sets anyway, so
// it costs no timer either; a parked read costs nothing while it waits.
const watchDelay = 20 * time.Millisecond

// States of a watch.
const (
	watchOff      int32 = iota // no read parked
	watchRunning               // run is reading from the client
	watchStopping              // stop is waking run's read
)

// watch notices a client that leaves while its request waits on a backend:
// once started, a read is parked on the client connection. End of stream
// or a reset means the client left: the attempt in flight is cut (its
// upstream connection expired) and the connection's context ends, so
// retries and picks stop. Bytes mean a pipelined request: they stay in the
// connection's buffer and the watch ends.
//
// The connection's goroutine starts it once the request has been read and
// the backend is slow to answer, and stops it before it reads from the
// client again; in between, the watch goroutine alone uses the reader.
type watch struct {
	cc    *clientConn
	ended chan struct{} // run reports its end here; capacity 1
	state atomic.Int32
	gone  atomic.Bool // the client left; written by run

	// up is the upstream connection the attempt in flight uses, expired
	// when the client leaves. The connection's goroutine sets it, and
	// clears it before the connection can go back to its pool, under mu,
	// so run never expires a connection another request took since.
	mu sync.Mutex
	up *pconn
}

// use makes pc (nil for none) the upstream connection run expires.
func (w *watch) use(pc *pconn) {
	w.mu.Lock()
	w.up = pc
	w.mu.Unlock()
}

// start parks a read on the client, in a goroutine of its own, unless one
// is parked already. Only the connection's goroutine calls it.
func (w *watch) start() {
	if w.state.Load() != watchOff {
		return
	}
	if w.ended == nil {
		w.ended = make(chan struct{}, 1)
	}
	w.state.Store(watchRunning) // publishes the reader to run
	go w.run()
}

// stop ends the watch and waits until no read of its is parked, so the
// connection's goroutine may use the reader again. It leaves the client's
// read deadline in the past.
func (w *watch) stop() {
	if w.state.Load() == watchOff {
		return
	}
	w.state.Store(watchStopping)
	_ = w.cc.c.SetReadDeadline(aLongTimeAgo)
	<-w.ended
	w.state.Store(watchOff)
}

// run is the parked read.
func (w *watch) run() {
	defer func() { w.ended <- struct{}{} }()
	// No deadline while parked; stop moves it into the past after it
	// marked the watch stopping, so a deadline cleared here never hides
	// its wake-up.
	_ = w.cc.c.SetReadDeadline(time.Time{})
	if w.state.Load() != watchRunning {
		return
	}
	rd := w.cc.rd
	if _, err := rd.Peek(rd.Buffered() + 1); err == nil || isTimeout(err) || errors.Is(err, wire.ErrBufferFull) {
		return // a pipelined request, a full buffer, or stop woke it
	}
	w.gone.Store(true)
	w.cc.cancel()
	w.mu.Lock()
	if w.up != nil {
		w.up.expire()
	}
	w.mu.Unlock()
}

// aLongTimeAgo is a deadline that has always passed.
var aLongTimeAgo = time.Unix(1, 0)
