package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"

	"ferrum/messages"
)

// Prober is the actor that probes one backend actor's backend, once per
// interval however many routes share it: GET <endpoint> every interval,
// the next probe starting only after the last one ended, each result handed to
// the backend actor (waiting under ctx, so no result is lost).
type Prober struct {
	b      *Backend
	client *http.Client
	// firstDelay spreads the first probes of many backends over a short
	// window instead of one burst.
	firstDelay time.Duration
}

// maxFirstSpread bounds how long the first probe of a backend may wait: the
// contract wants backends probed at once on start-up and reload, and spreading
// over a quarter second is enough to avoid a burst.
const maxFirstSpread = 250 * time.Millisecond

// NewProber makes the prober for b. client is shared by all probers; it must
// not follow redirects.
func NewProber(b *Backend, client *http.Client) *Prober {
	h := b.Health()
	spread := min(h.Interval, maxFirstSpread)
	var first time.Duration
	if spread > 0 {
		first = time.Duration(xxhash.Sum64String(b.url) % uint64(spread))
	}
	return &Prober{b: b, client: client, firstDelay: first}
}

// NewProbeClient returns the HTTP client probers share: no redirects, no
// proxy, and kept-alive connections, as Envoy's health checks do by default:
// a probe every second to hundreds of backends costs a TCP handshake each
// otherwise. A probe that times out or breaks leaves no connection behind,
// so the next one has to open a fresh connection.
func NewProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Name identifies the actor in supervisor logs.
func (p *Prober) Name() string { return "prober " + p.b.url }

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) error {
	t := time.NewTimer(p.firstDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		res := p.probeOnce(ctx, start)
		if err := p.b.Probed(ctx, res); err != nil {
			return nil
		}
		// Next probe one interval after this one started, or at once when
		// the probe itself took longer than that.
		t.Reset(max(0, p.b.Health().Interval-time.Since(start)))
	}
}

func (p *Prober) probeOnce(ctx context.Context, start time.Time) messages.ProbeResult {
	h := p.b.Health()
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	res := messages.ProbeResult{At: start}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.b.url+h.Endpoint, nil)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	req.Header.Set("User-Agent", "ferrum-health")
	resp, err := p.client.Do(req)
	res.Latency = time.Since(start)
	if err != nil {
		res.Err = fmt.Sprintf("probe %s: %v", p.b.url, unwrapURLError(err))
		if what, ok := LocalShortage(err); ok {
			// ferrum ran short, not the backend: the probe says nothing.
			res.Local = true
			res.Err = fmt.Sprintf("probe %s: ferrum ran out of %s: %v", p.b.url, what, unwrapURLError(err))
		}
		return res
	}
	// Read the (small) body so the connection can carry the next probe.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	res.Status = resp.StatusCode
	res.OK = h.SuccessStatus.Contains(resp.StatusCode)
	if !res.OK {
		res.Err = fmt.Sprintf("status %d outside success_status", resp.StatusCode)
	}
	return res
}

// LocalShortage reports whether err means ferrum itself ran out of
// something (file descriptors, local ports, socket memory) rather than that
// the other side failed, and names what ran out. Such a failure is never
// charged to a backend.
func LocalShortage(err error) (what string, ok bool) {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return "file descriptors (process limit)", true
	case errors.Is(err, syscall.ENFILE):
		return "file descriptors (system limit)", true
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "local ports or addresses", true
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return "socket buffer memory", true
	}
	return "", false
}

// unwrapURLError drops net/http's "Get <url>:" wrapper, which repeats what the
// probe error already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
