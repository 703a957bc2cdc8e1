package main

import (
	"math"
	"strings"
	"testing"
)

// A report as wrk 4.1 prints it with --latency, clean.
const wrkClean = `Running 10s test @ http://127.0.0.1:8080/bench
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.23ms  30.00ms   85.00%
    Req/Sec    15.00k     1.20k   18.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.50ms
     90%    3.30ms
     99%    1.20s
  300000 requests in 10.00s, 400.00MB read
Requests/sec:  30000.50
Transfer/sec:     40.00MB
`

// A report with socket errors, non-2xx answers and other units.
const wrkErrors = `Running 10s test @ http://127.0.0.1:8080/bench
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   150.00us   20.00us    2.00s    90.00%
    Req/Sec   900.00    100.00     1.00k    70.00%
  Latency Distribution
     50%  140.00us
     75%  160.00us
     90%  180.00us
     99%    1.50m
  1800 requests in 1.00m, 1.50GB read
  Socket errors: connect 1, read 2, write 3, timeout 12
  Non-2xx or 3xx responses: 1234
Requests/sec:     30.00
Transfer/sec:    512.00KB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		text string
		want wrkReport
	}{
		{"clean", wrkClean, wrkReport{
			Requests: 300000, DurationSec: 10, ReadBytes: 400 << 20,
			RequestsPerSec: 30000.5, TransferPerSec: 40 << 20,
			LatencyAvgMs: 2.1, LatencyMaxMs: 30,
			P50Ms: 0.812, P75Ms: 2.5, P90Ms: 3.3, P99Ms: 1200,
		}},
		{"errors", wrkErrors, wrkReport{
			Requests: 1800, DurationSec: 60, ReadBytes: 1.5 * (1 << 30),
			RequestsPerSec: 30, TransferPerSec: 512 << 10,
			LatencyAvgMs: 0.15, LatencyMaxMs: 2000,
			P50Ms: 0.14, P75Ms: 0.16, P90Ms: 0.18, P99Ms: 90_000,
			ConnectErrors: 1, ReadErrors: 2, WriteErrors: 3, Timeouts: 12, Non2xx: 1234,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.text)
			if err != nil {
				t.Fatalf("parseWrk: %v", err)
			}
			if !sameReport(got, tt.want) {
				t.Errorf("parseWrk = %+v\nwant        %+v", got, tt.want)
			}
		})
	}
}

// sameReport compares two reports, allowing float rounding.
func sameReport(a, b wrkReport) bool {
	floats := [][2]float64{
		{a.DurationSec, b.DurationSec}, {a.ReadBytes, b.ReadBytes},
		{a.RequestsPerSec, b.RequestsPerSec}, {a.TransferPerSec, b.TransferPerSec},
		{a.LatencyAvgMs, b.LatencyAvgMs}, {a.LatencyMaxMs, b.LatencyMaxMs},
		{a.P50Ms, b.P50Ms}, {a.P75Ms, b.P75Ms}, {a.P90Ms, b.P90Ms}, {a.P99Ms, b.P99Ms},
	}
	for _, f := range floats {
		if math.Abs(f[0]-f[1]) > 1e-9*math.Max(1, math.Abs(f[1])) {
			return false
		}
	}
	a.DurationSec, a.ReadBytes, a.RequestsPerSec, a.TransferPerSec = 0, 0, 0, 0
	a.LatencyAvgMs, a.LatencyMaxMs, a.P50Ms, a.P75Ms, a.P90Ms, a.P99Ms = 0, 0, 0, 0, 0, 0
	b.DurationSec, b.ReadBytes, b.RequestsPerSec, b.TransferPerSec = 0, 0, 0, 0
	b.LatencyAvgMs, b.LatencyMaxMs, b.P50Ms, b.P75Ms, b.P90Ms, b.P99Ms = 0, 0, 0, 0, 0, 0
	return a == b
}

func TestParseWrkIncomplete(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"no distribution", strings.Replace(wrkClean, "  Latency Distribution\n", "", 1), "50% latency"},
		{"no requests/sec", strings.Replace(wrkClean, "Requests/sec:  30000.50\n", "", 1), "Requests/sec"},
		{"no transfer/sec", strings.Replace(wrkClean, "Transfer/sec:     40.00MB\n", "", 1), "Transfer/sec"},
		{"bad unit", strings.Replace(wrkClean, "3.30ms", "3.30xs", 1), `"3.30xs"`},
		{"bad socket errors", strings.Replace(wrkErrors, "timeout 12", "lost 12", 1), `"lost"`},
		{"connection refused", "unable to connect to 127.0.0.1:1 Connection refused\n", "no Requests/sec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWrk(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseWrk(%s) error = %v, want one mentioning %s", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestParseWrkTime(t *testing.T) {
	tests := []struct {
		in   string
		want float64 // ms
	}{
		{"812.00us", 0.812}, {"1.23ms", 1.23}, {"2.00s", 2000}, {"1.50m", 90_000}, {"1.00h", 3_600_000},
	}
	for _, tt := range tests {
		got, err := parseWrkTime(tt.in)
		if err != nil || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12", "ms", "1.2.3ms"} {
		if _, err := parseWrkTime(bad); err == nil {
			t.Errorf("parseWrkTime(%q) = nil error, want one", bad)
		}
	}
}

func TestParseWrkBytes(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"512.00B", 512}, {"1.50KB", 1536}, {"40.00MB", 40 << 20}, {"2.00GB", 2 << 30}, {"1.00TB", 1 << 40},
	}
	for _, tt := range tests {
		got, err := parseWrkBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseWrkBytes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12", "1.5K", "xKB", "1.0XB"} {
		if _, err := parseWrkBytes(bad); err == nil {
			t.Errorf("parseWrkBytes(%q) = nil error, want one", bad)
		}
	}
}
