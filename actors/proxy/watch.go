package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"ferrum/actors/proxy/wire"
)

// watchDelay is how long a request waits on its backend before its
// connection's reader is parked on the client, to notice the client leave.
// A backend that answers sooner costs no read and no goroutine; a parked
// read costs nothing while it waits.
const watchDelay = 20 * time.Millisecond

// States of a watch.
const (
	watchOff      int32 = iota // no timer armed, no read parked
	watchArmed                 // the timer runs; run may start any moment
	watchRunning               // run is reading from the client
	watchStopping              // stop is waking run's read
)

// watch notices a client that leaves while its request waits on a backend:
// once armed, after watchDelay a read is parked on the client connection.
// End of stream or a reset means the client left: the attempt in flight is
// cut (its upstream connection expired) and the connection's context ends,
// so retries and picks stop. Bytes mean a pipelined request: they stay in
// the connection's buffer and the watch ends.
//
// The connection's goroutine arms it once the request has been read, and
// stops it before it reads from the client again; in between, the watch
// goroutine alone uses the reader.
type watch struct {
	cc    *clientConn
	timer *time.Timer   // made on first use, reset by each arm
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

// arm starts the watch's timer. Only the connection's goroutine calls it.
func (w *watch) arm() {
	if w.state.Load() != watchOff {
		return
	}
	w.state.Store(watchArmed) // publishes the reader to run
	if w.timer == nil {
		w.ended = make(chan struct{}, 1)
		w.timer = time.AfterFunc(watchDelay, w.run)
		return
	}
	w.timer.Reset(watchDelay)
}

// stop ends the watch and waits until no read of its is parked, so the
// connection's goroutine may use the reader again. It leaves the client's
// read deadline in the past when a read had to be woken.
func (w *watch) stop() {
	if w.state.Load() == watchOff {
		return
	}
	if !w.timer.Stop() {
		// run started (or is about to): wake its read and wait for it.
		w.state.Store(watchStopping)
		_ = w.cc.c.SetReadDeadline(aLongTimeAgo)
		<-w.ended
	}
	w.state.Store(watchOff)
}

// run is the parked read, in the timer's goroutine.
func (w *watch) run() {
	defer func() { w.ended <- struct{}{} }()
	if !w.state.CompareAndSwap(watchArmed, watchRunning) {
		return
	}
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
