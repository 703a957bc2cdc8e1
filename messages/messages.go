// Package messages holds the value types that cross goroutines between the
// request path and ferrum's actors, grouped by recipient. A message never
// carries an *http.Request, an http.ResponseWriter, or anything its sender
// keeps using after the send.
package messages

import "time"

// State is a backend's health state as the contract names it.
type State uint8

const (
	// Healthy backends are in rotation.
	Healthy State = iota
	// Unhealthy backends are out of rotation: failing active probes, or an
	// ejection is over and they have not yet recovered.
	Unhealthy
	// Ejected backends are out of rotation while their ejection timer runs.
	Ejected
)

// String returns the contract's name for s.
func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Ejected:
		return "ejected"
	}
	return "unknown"
}

// Reasons a backend changed state, as logged in health_transition and shown
// in /health/backends.
const (
	ReasonActiveFailure   = "active_failure"
	ReasonPassiveFailure  = "passive_failure"
	ReasonEjectionExpired = "ejection_expired"
	ReasonActiveRecovery  = "active_recovery"
)

// --- to a backend actor ---

// Class sorts an attempt's outcome the way backend health and the
// backend_requests_total metric count it.
type Class uint8

const (
	// Success is any answer that is not a passive failure.
	Success Class = iota
	// Failure is a passive failure: connect error, timeout, reset, invalid
	// response, or a status in passive_failure_status.
	Failure
	// Cancelled is an attempt the client cut short; it is never charged to
	// the backend.
	Cancelled
)

// String returns the outcome label used in metrics.
func (c Class) String() string {
	switch c {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Cancelled:
		return "cancelled"
	}
	return "unknown"
}

// Outcome reports what one attempt against a backend came to. The request
// path sends it after the attempt; the backend actor may drop it when its
// mailbox is full (the drop is counted), so it must never carry anything that
// has to arrive.
type Outcome struct {
	Class  Class
	Status int    // response status, 0 when none arrived
	Kind   string // error kind (a contract "kind") for failures, "" otherwise
}

// ProbeResult is one active health probe's result, sent by the backend's
// prober. It is delivered reliably: the prober waits under its context.
type ProbeResult struct {
	At      time.Time
	OK      bool
	Status  int // 0 when no response arrived
	Latency time.Duration
	Err     string // why the probe failed, "" when it passed
	// Local marks a probe ferrum could not make for want of its own
	// resources (file descriptors, ports): it counts neither way.
	Local bool
}

// --- to a route actor ---

// PickRequest asks a route actor for a backend. Reply must have capacity 1 and
// is written exactly once unless the asker gave up (its context ended).
type PickRequest struct {
	// Avoid is the index of a backend to skip when another one is in
	// rotation (a retry goes elsewhere); -1 for none.
	Avoid int
	// Hash is the request's consistent-hash key hash; HasHash is false when
	// the request carries no key.
	Hash    uint64
	HasHash bool
	// Retry marks a pick made under a retry token.
	Retry bool
	Reply chan PickReply
}

// PickReply answers a PickRequest. OK is false when no backend of the route
// is in rotation. A successful pick must be released with a Release message
// once the attempt is over.
type PickReply struct {
	Index int
	OK    bool
}

// Release tells a route actor that an attempt on backend Index is over, so
// its in-flight count drops; or, with Token, that a retry token is given
// back (Index -1), Picked telling whether a retry attempt was made under it.
type Release struct {
	Index  int
	Token  bool
	Picked bool
}

// Rotation tells a route actor whether backend Index is in rotation. A
// backend actor sends it on every change, and once when it subscribes.
// Since is when the backend last entered rotation (zero: it has been in
// since start-up), from which slow start ramps its share.
type Rotation struct {
	Index int
	In    bool
	Since time.Time
}

// RetryAsk asks a route actor for a retry token under its retry budget.
// Reply has capacity 1 and is written exactly once, true when granted; a
// granted token is given back with a Release whose Token is set.
type RetryAsk struct {
	Reply chan bool
}

// EjectAsk asks a route actor whether backend Index may be ejected on passive
// evidence (max_ejected_percent). Reply has capacity 1. A granted ejection
// takes the backend out of rotation at once.
type EjectAsk struct {
	Index int
	Reply chan bool
}
