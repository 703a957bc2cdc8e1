package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Error kinds, exactly as the contract names them (errors_total{kind}).
const (
	KindNoRoute                 = "no_route"
	KindNoHealthyBackend        = "no_healthy_backend"
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

// Kinds lists every error kind, for metrics that pre-create their series.
var Kinds = []string{
	KindNoRoute, KindNoHealthyBackend, KindUpstreamConnect, KindUpstreamTimeout,
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

// failure is a classified attempt failure.
type failure struct {
	kind   string
	status int  // what the client gets when this is the last word
	client bool // the client caused it: never charged to the backend
	reason string
	sent   bool // some of the request may have reached the backend
}

// classify sorts an error from a round trip. body is the request body
// wrapper, whose own error (the client's fault) takes precedence; ctx is the
// attempt's context.
func classify(err error, body *bodyReader, clientCtx, attemptCtx context.Context) failure {
	if body != nil && body.err != nil {
		return body.failure()
	}
	if clientCtx.Err() != nil {
		return failure{kind: KindClientDisconnect, status: 499, client: true, sent: true}
	}
	var de *errDial
	if errors.As(err, &de) {
		if isTimeout(de.err) {
			return failure{kind: KindUpstreamTimeout, status: http.StatusGatewayTimeout, reason: ReasonConnect}
		}
		return failure{kind: KindUpstreamConnect, status: http.StatusBadGateway, reason: ReasonConnect}
	}
	if attemptCtx.Err() != nil || isTimeout(err) {
		return failure{kind: KindUpstreamTimeout, status: http.StatusGatewayTimeout, reason: ReasonTimeout, sent: true}
	}
	if isInvalidResponse(err) {
		return failure{kind: KindUpstreamInvalidResponse, status: http.StatusBadGateway, reason: ReasonInvalidResponse, sent: true}
	}
	return failure{kind: KindUpstreamReset, status: http.StatusBadGateway, reason: ReasonReset, sent: true}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// The transport's response header timeout is a plain error.
	return err != nil && strings.Contains(err.Error(), "timeout awaiting response headers")
}

func isInvalidResponse(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return false
	}
	if errors.Is(err, errHeadTooLarge) || errors.Is(err, errUnaskedUpgrade) {
		return true
	}
	// net/http's response parser reports these as plain errors.
	s := err.Error()
	return strings.Contains(s, "malformed") || strings.Contains(s, "bad ") || strings.Contains(s, "invalid") || strings.Contains(s, "too many") ||
		strings.Contains(s, "unsupported") || strings.Contains(s, "bogus") || strings.Contains(s, "exceeded")
}

// plain writes one of the proxy's own short answers. Bodies name the status
// only, never a backend.
func plain(w http.ResponseWriter, status int, requestID string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	w.WriteHeader(status)
	io.WriteString(w, statusBody(status))
}

func statusBody(status int) string {
	switch status {
	case http.StatusNotFound:
		return "no route\n"
	case http.StatusServiceUnavailable:
		return "no healthy backend\n"
	case http.StatusBadGateway:
		return "bad gateway\n"
	case http.StatusGatewayTimeout:
		return "gateway timeout\n"
	}
	return strings.ToLower(http.StatusText(status)) + "\n"
}
