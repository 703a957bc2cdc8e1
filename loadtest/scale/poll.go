package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ferrum/loadtest/proc"
)

// pollEvery is the pause between two requests while the tool waits for a
// proxy to serve a route: short, because start-up and reload are timed by
// the first 200.
const pollEvery = 5 * time.Millisecond

// newClient is an HTTP client of the tool's whose requests each end within
// timeout: no proxy from the environment, and a fresh connection per
// request, so a request made after a reload never rides on a connection
// from before it and nothing stays open while the proxy is measured idle
// or asked to stop.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   timeout,
	}
}

// getStatus sends GET url and returns the status, the body read and
// dropped.
func getStatus(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	return resp.StatusCode, nil
}

// errWaitLimit ends one waitServed that ran out of its own time, which
// tells it apart from the end of the whole run.
var errWaitLimit = errors.New("wait limit reached")

// waitLimitError is waitServed's error when its own limit passed: the
// proxy was still running and not serving.
type waitLimitError struct {
	url   string
	limit time.Duration
	last  string // the last answer or error before the limit
}

func (e *waitLimitError) Error() string {
	return fmt.Sprintf("GET %s: no 200 within %v (last: %s)", e.url, e.limit, e.last)
}

// waitServed sends GET url every pollEvery until it answers 200, and
// returns the moment that answer arrived. It gives up when limit has
// passed, when ctx ends, or when p (if not nil) has exited.
func waitServed(ctx context.Context, c *http.Client, url string, limit time.Duration, p *proc.Process) (time.Time, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, limit, errWaitLimit)
	defer cancel()
	last := "no answer yet"
	for {
		code, err := getStatus(ctx, c, url)
		if err == nil && code == http.StatusOK {
			return time.Now(), nil
		}
		if ctx.Err() == nil {
			if err != nil {
				last = err.Error()
			} else {
				last = "status " + strconv.Itoa(code)
			}
		}
		if p != nil {
			if gone, how := p.Exited(); gone {
				return time.Time{}, fmt.Errorf("%s ended before GET %s answered 200: %s", p.Name(), url, how)
			}
		}
		t := time.NewTimer(pollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(context.Cause(ctx), errWaitLimit) {
				return time.Time{}, &waitLimitError{url: url, limit: limit, last: last}
			}
			return time.Time{}, fmt.Errorf("GET %s: %w (last: %s)", url, context.Cause(ctx), last)
		case <-t.C:
		}
	}
}

// sleepUntil waits until t or until ctx ends, whichever comes first, and
// returns ctx's error in the second case. It times measurement windows; it
// never orders events.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// metricsSample is what the tool reads from a ferrum /metrics.
type metricsSample struct {
	goroutines int
	// activeFailures sums ferrum_proxy_backend_failures_total over its
	// source="active" series: failed probes since start, counted once per
	// (route, backend) series that shows them.
	activeFailures float64
}

// parseMetrics reads go_goroutines, which must be there, and the active
// probe failures from a Prometheus text exposition.
func parseMetrics(text string) (metricsSample, error) {
	var m metricsSample
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		// A sample is "name value" or "name{labels} value", maybe with
		// a timestamp after the value.
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, rest = line[:i], line[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		switch {
		case name == "go_goroutines":
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil || v < 0 || v != float64(int(v)) {
				return metricsSample{}, fmt.Errorf("parse metrics: go_goroutines %q: want a count", fields[0])
			}
			m.goroutines, found = int(v), true
		case name == "ferrum_proxy_backend_failures_total" && strings.Contains(line, `source="active"`):
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return metricsSample{}, fmt.Errorf("parse metrics: %s: %w", line, err)
			}
			m.activeFailures += v
		}
	}
	if err := sc.Err(); err != nil {
		return metricsSample{}, fmt.Errorf("parse metrics: %w", err)
	}
	if !found {
		return metricsSample{}, fmt.Errorf("parse metrics: no go_goroutines sample")
	}
	return m, nil
}

// scrapeMetrics reads the proxy's /metrics.
func scrapeMetrics(ctx context.Context, c *http.Client, base string) (metricsSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return metricsSample{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return metricsSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metricsSample{}, fmt.Errorf("GET %s/metrics: status %d", base, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return metricsSample{}, fmt.Errorf("GET %s/metrics: %w", base, err)
	}
	return parseMetrics(string(b))
}
