//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is one series of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metrics is one scrape of ferrum's /metrics.
type metrics []sample

// sum adds up every series called name whose labels include all of kv
// (pairs of label name and value). No such series sums to 0.
func (m metrics) sum(name string, kv ...string) float64 {
	var total float64
	for _, s := range m {
		if s.name != name || !hasLabels(s.labels, kv) {
			continue
		}
		total += s.value
	}
	return total
}

func hasLabels(labels map[string]string, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if labels[kv[i]] != kv[i+1] {
			return false
		}
	}
	return true
}

// parseMetrics reads the Prometheus text format: comments and blank lines
// are skipped, a timestamp after the value is ignored. It fails on the
// first line it cannot read, naming it.
func parseMetrics(text string) (metrics, error) {
	var out metrics
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("parse metrics line %d %.60q: %w", n+1, line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return sample{}, fmt.Errorf("no value")
	}
	s.name, line = line[:end], line[end:]
	if strings.HasPrefix(line, "{") {
		rest, err := parseLabels(line[1:], s.labels)
		if err != nil {
			return sample{}, err
		}
		line = rest
	}
	fields := strings.Fields(line)
	if len(fields) == 0 || len(fields) > 2 {
		return sample{}, fmt.Errorf("want a value and an optional timestamp after the labels")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return sample{}, fmt.Errorf("value: %w", err)
	}
	s.value = v
	return s, nil
}

// parseLabels reads `name="value",...}` into dst and returns what follows
// the closing brace. Values may hold \\, \" and \n escapes.
func parseLabels(s string, dst map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("label: want name=\"value\"")
		}
		name := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					val.WriteByte('\n')
				} else {
					val.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s = s[i+1:]
				closed = true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("label %s: value not closed", name)
		}
		dst[name] = val.String()
	}
}

// debugClient fetches ferrum's own endpoints; it keeps no connections, so
// it adds nothing to the fd and socket counts the experiments read.
var debugClient = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// getText GETs url and returns the status and body.
func getText(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := debugClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(b), err
}

// scrape reads ferrum's /metrics at base ("http://127.0.0.1:PORT").
func scrape(ctx context.Context, base string) (metrics, error) {
	code, body, err := getText(ctx, base+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape %s/metrics: %w", base, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("scrape %s/metrics: status %d", base, code)
	}
	return parseMetrics(body)
}

// backendHealth is one backend of one route in /health/backends.
type backendHealth struct {
	URL     string `json:"url"`
	Healthy bool   `json:"healthy"`
	State   string `json:"state"`
}

// healthReport is the part of /health/backends the experiments read.
type healthReport struct {
	Routes []struct {
		PathPrefix string          `json:"path_prefix"`
		Backends   []backendHealth `json:"backends"`
	} `json:"routes"`
}

// backend returns the first entry for url, under any route.
func (h healthReport) backend(url string) (backendHealth, bool) {
	for _, r := range h.Routes {
		for _, b := range r.Backends {
			if b.URL == url {
				return b, true
			}
		}
	}
	return backendHealth{}, false
}

// unhealthy lists "url state" for every backend not healthy, under any route.
func (h healthReport) unhealthy() []string {
	var out []string
	for _, r := range h.Routes {
		for _, b := range r.Backends {
			if !b.Healthy || b.State != "healthy" {
				out = append(out, b.URL+" "+b.State)
			}
		}
	}
	return out
}

// parseHealth reads a /health/backends JSON body.
func parseHealth(body string) (healthReport, error) {
	var h healthReport
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		return healthReport{}, fmt.Errorf("parse /health/backends: %w", err)
	}
	return h, nil
}

// backendsHealth reads ferrum's /health/backends at base.
func backendsHealth(ctx context.Context, base string) (healthReport, error) {
	code, body, err := getText(ctx, base+"/health/backends")
	if err != nil {
		return healthReport{}, fmt.Errorf("get %s/health/backends: %w", base, err)
	}
	if code != http.StatusOK {
		return healthReport{}, fmt.Errorf("get %s/health/backends: status %d", base, code)
	}
	return parseHealth(body)
}
