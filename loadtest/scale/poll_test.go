package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       metricsSample
		wantErr    bool
	}{
		{
			name: "prometheus text",
			text: "# HELP go_gc_duration_seconds x\ngo_gc_duration_seconds{quantile=\"0\"} 1e-05\n" +
				"# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 9524\ngo_threads 9\n" +
				"ferrum_proxy_backend_failures_total{backend=\"http://127.0.0.1:1\",route=\"/r0\",source=\"active\"} 3\n" +
				"ferrum_proxy_backend_failures_total{backend=\"http://127.0.0.1:1\",route=\"/r0\",source=\"passive\"} 100\n" +
				"ferrum_proxy_backend_failures_total{backend=\"http://127.0.0.1:2\",route=\"/r1 x\",source=\"active\"} 2\n",
			want: metricsSample{goroutines: 9524, activeFailures: 5},
		},
		{name: "exponent", text: "go_goroutines 2.7523e+04\n", want: metricsSample{goroutines: 27523}},
		{name: "prefix of another name", text: "go_goroutines_total 3\n", wantErr: true},
		{name: "missing", text: "go_threads 9\n", wantErr: true},
		{name: "fraction", text: "go_goroutines 1.5\n", wantErr: true},
		{name: "not a number", text: "go_goroutines many\n", wantErr: true},
		{name: "bad failure count", text: "go_goroutines 1\nferrum_proxy_backend_failures_total{source=\"active\"} x\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetrics(tc.text)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseMetrics = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestWaitServed polls a server that answers 503 a few times, then 200.
func TestWaitServed(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := newClient(time.Second)
	defer c.CloseIdleConnections()
	before := time.Now()
	at, err := waitServed(t.Context(), c, srv.URL+"/r0/x", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 4 || at.Before(before) {
		t.Errorf("waitServed: %d requests, answered at %v (started %v); want 4, after the start", n, at, before)
	}
}

func TestWaitServedGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	c := newClient(time.Second)

	_, err := waitServed(t.Context(), c, srv.URL+"/x", 50*time.Millisecond, nil)
	var wl *waitLimitError
	if !errors.As(err, &wl) || !strings.Contains(err.Error(), "no 200 within 50ms (last: status 404)") {
		t.Errorf("waitServed past its limit: %v", err)
	}

	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("run over"))
	_, err = waitServed(ctx, c, srv.URL+"/x", time.Minute, nil)
	if err == nil || !strings.Contains(err.Error(), "run over") || errors.As(err, &wl) {
		t.Errorf("waitServed after the run's end: %v", err)
	}
}

func TestSleepUntil(t *testing.T) {
	if err := sleepUntil(t.Context(), time.Now().Add(-time.Second)); err != nil {
		t.Errorf("sleepUntil in the past: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepUntil(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepUntil with an ended context = %v, want context.Canceled", err)
	}
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("go_goroutines 127\n"))
	}))
	defer srv.Close()
	c := newClient(time.Second)
	if m, err := scrapeMetrics(t.Context(), c, srv.URL); err != nil || m.goroutines != 127 {
		t.Errorf("scrapeMetrics = %+v, %v; want 127 goroutines", m, err)
	}
	if _, err := scrapeMetrics(t.Context(), c, srv.URL+"/nope"); err == nil {
		t.Error("scrapeMetrics of a 404: no error")
	}
}
