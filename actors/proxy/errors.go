package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	"ferrum/actors"
	"ferrum/actors/proxy/wire"
)

// Error kinds, exactly as the contract names them (errors_total{kind}).
const (
	KindNoRoute                 = "no_route"
	KindNoHealthyBackend        = "no_healthy_backend"
	KindLocalResources          = "local_resources"
	KindUpstreamConnect         = "upstream_connect"
	KindUpstreamTimeout         = "upstream_timeout"
	KindUpstreamReset           = "upstream_reset"
	KindUpstreamInvalidResponse = "upstream_invalid_response"
	KindUpstreamBodyTimeout     = "upstream_body_timeout"
	KindClientBodyTimeout       = "client_body_timeout"
	KindClientDisconnect        = "client_disconnect"
	KindRequestTooLarge         = "request_too_large"
	KindResponseTooLarge        = "response_too_large"
	KindBadRequest              = "bad_request"
)

// Kinds lists every error kind.
var Kinds = []string{
	KindNoRoute, KindNoHealthyBackend, KindLocalResources, KindUpstreamConnect, KindUpstreamTimeout,
	KindUpstreamReset, KindUpstreamInvalidResponse, KindUpstreamBodyTimeout,
	KindClientBodyTimeout, KindClientDisconnect, KindRequestTooLarge,
	KindResponseTooLarge, KindBadRequest,
}

// Retry reasons (retries_total{reason}).
const (
	ReasonStatus          = "status"
	ReasonConnect         = "connect"
	ReasonTimeout         = "timeout"
	ReasonReset           = "reset"
	ReasonInvalidResponse = "invalid_response"
)

// RetryReasons lists every retry reason.
var RetryReasons = []string{ReasonStatus, ReasonConnect, ReasonTimeout, ReasonReset, ReasonInvalidResponse}

// failure is a classified attempt failure: what the client gets when it is
// the last word, and how the backend is charged.
type failure struct {
	kind   string
	status int    // what the client gets when this is the last word; 499: nothing
	client bool   // the client caused it: never charged to the backend
	local  bool   // ferrum itself ran short: never charged to the backend
	what   string // with local: what ran out
	reason string // retry reason, "" when not retryable
}

// The errors ferrum makes itself. Each is matched by identity or type,
// never by its text.
var (
	// errRequestTooLarge ends a request body that crossed max_request_body_bytes.
	errRequestTooLarge = errors.New("request body over max_request_body_bytes")
	// errBodyTooSlow ends a request body that stayed under client_body_min_rate.
	errBodyTooSlow = errors.New("request body slower than client_body_min_rate")
	// errBodyStalled ends a request body that paused longer than client_body_timeout.
	errBodyStalled = errors.New("request body paused longer than client_body_timeout")
	// errClientGone marks a client that closed its connection mid-request.
	errClientGone = errors.New("client closed the connection")
	// errResponseTooLarge ends a response body that crossed max_response_body_bytes.
	errResponseTooLarge = errors.New("response body over max_response_body_bytes")
	// errUpstreamStalled ends a response whose backend paused longer than read_timeout.
	errUpstreamStalled = errors.New("upstream paused longer than read_timeout")
	// errUnaskedUpgrade is a 101 answer to a request that did not ask for one.
	errUnaskedUpgrade = errors.New("101 Switching Protocols to a request without Upgrade")
	// errAttemptDeadline is an attempt cut by total_timeout.
	errAttemptDeadline = errors.New("retry.total_timeout reached")
)

// dialError is a failure to open a connection to a backend: nothing was
// sent, so any method may be retried.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// clientWriteError is a failed write to the client.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "write to client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

// bodySourceError is a request body that could not be read from the client
// to its end; err is one of the errors above or the connection's own.
type bodySourceError struct{ err error }

func (e *bodySourceError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodySourceError) Unwrap() error { return e.err }

// fromBodySource reports that err is, or wraps, a *bodySourceError. Its
// target lives here, not in the caller: errors.As takes its address, which
// moves it to the heap, so a caller on the request path asks only once an
// error is there.
func fromBodySource(err error) bool {
	var be *bodySourceError
	return errors.As(err, &be)
}

// classifyBody sorts a client-side body failure.
func classifyBody(err error) failure {
	f := failure{client: true}
	switch {
	case errors.Is(err, errRequestTooLarge):
		f.kind, f.status = KindRequestTooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(err, errBodyStalled), errors.Is(err, errBodyTooSlow):
		f.kind, f.status = KindClientBodyTimeout, http.StatusRequestTimeout
	case isWireError(err):
		f.kind, f.status = KindBadRequest, http.StatusBadRequest
	default:
		f.kind, f.status = KindClientDisconnect, 499
	}
	return f
}

// classify sorts an error from an attempt. gone reports that the client
// left; deadline that total_timeout ran out.
func classify(err error, gone bool) failure {
	var be *bodySourceError
	if errors.As(err, &be) {
		return classifyBody(be.err)
	}
	if gone {
		return failure{kind: KindClientDisconnect, status: 499, client: true}
	}
	var de *dialError
	if errors.As(err, &de) {
		if what, ok := actors.LocalShortage(de.err); ok {
			return failure{kind: KindLocalResources, status: http.StatusServiceUnavailable, local: true, what: what}
		}
		if isTimeout(de.err) {
			return failure{kind: KindUpstreamTimeout, status: http.StatusGatewayTimeout, reason: ReasonConnect}
		}
		return failure{kind: KindUpstreamConnect, status: http.StatusBadGateway, reason: ReasonConnect}
	}
	switch {
	case errors.Is(err, errAttemptDeadline), isTimeout(err):
		return failure{kind: KindUpstreamTimeout, status: http.StatusGatewayTimeout, reason: ReasonTimeout}
	case isWireError(err), errors.Is(err, errUnaskedUpgrade):
		return failure{kind: KindUpstreamInvalidResponse, status: http.StatusBadGateway, reason: ReasonInvalidResponse}
	}
	return failure{kind: KindUpstreamReset, status: http.StatusBadGateway, reason: ReasonReset}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isWireError(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) || errors.Is(err, wire.ErrHeadTooLarge)
}

// peerClosed reports a read or write error that means the other side
// closed or reset the connection.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
