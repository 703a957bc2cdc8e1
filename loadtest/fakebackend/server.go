package fakebackend

import (
	"net/http"
	"time"
)

// NewServer returns an *http.Server that serves Handler(o) with timeouts fit
// for a test backend. Addr is left empty: the caller serves it on a listener
// it made, and owns its shutdown.
//
// There is no ReadTimeout or WriteTimeout on purpose: the delay, chunks and
// large-body knobs, and slow uploads from ferrum's own tests, must be able
// to run longer than any fixed bound.
func NewServer(o Options) *http.Server {
	return &http.Server{
		Handler:           Handler(o),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
}
