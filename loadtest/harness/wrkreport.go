package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// wrkReport is what the harness reads from wrk's own text report. Times are
// in milliseconds and sizes in bytes.
type wrkReport struct {
	Requests       int64   `json:"requests"`
	DurationSec    float64 `json:"duration_s"`
	ReadBytes      float64 `json:"read_bytes"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	TransferPerSec float64 `json:"transfer_bytes_per_sec"`
	LatencyAvgMs   float64 `json:"latency_avg_ms"`
	LatencyMaxMs   float64 `json:"latency_max_ms"`
	P50Ms          float64 `json:"p50_ms"`
	P75Ms          float64 `json:"p75_ms"`
	P90Ms          float64 `json:"p90_ms"`
	P99Ms          float64 `json:"p99_ms"`
	// Socket errors as wrk counts them; wrk prints the line only when one
	// of them is non-zero.
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	Timeouts      int64 `json:"timeouts"`
	// Non2xx counts answers outside 200..399 ("Non-2xx or 3xx responses").
	Non2xx int64 `json:"non_2xx"`
}

// socketErrors is the sum of the four socket error counts.
func (r wrkReport) socketErrors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// parseWrk reads a report that `wrk --latency` printed. It fails when a
// line the summary needs (the requests line, Requests/sec, Transfer/sec or
// the latency distribution) is missing or unreadable.
func parseWrk(text string) (wrkReport, error) {
	var (
		r    wrkReport
		errs []error
		seen = map[string]bool{}
	)
	fail := func(line string, err error) { errs = append(errs, fmt.Errorf("%q: %w", line, err)) }
	inDistribution := false
	for raw := range strings.Lines(text) {
		line := strings.TrimSpace(raw)
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case line == "Latency Distribution":
			inDistribution = true
		case inDistribution && len(f) == 2 && strings.HasSuffix(f[0], "%"):
			ms, err := parseWrkTime(f[1])
			if err != nil {
				fail(line, err)
				continue
			}
			switch f[0] {
			case "50%":
				r.P50Ms, seen["p50"] = ms, true
			case "75%":
				r.P75Ms = ms
			case "90%":
				r.P90Ms, seen["p90"] = ms, true
			case "99%":
				r.P99Ms, seen["p99"] = ms, true
			}
		case f[0] == "Latency" && len(f) >= 4:
			inDistribution = false
			avg, err1 := parseWrkTime(f[1])
			peak, err2 := parseWrkTime(f[3])
			if err := errors.Join(err1, err2); err != nil {
				fail(line, err)
				continue
			}
			r.LatencyAvgMs, r.LatencyMaxMs = avg, peak
		case len(f) >= 6 && f[1] == "requests" && f[2] == "in":
			// "300000 requests in 10.00s, 400.00MB read"
			inDistribution = false
			n, err1 := strconv.ParseInt(f[0], 10, 64)
			d, err2 := parseWrkTime(strings.TrimSuffix(f[3], ","))
			b, err3 := parseWrkBytes(f[4])
			if err := errors.Join(err1, err2, err3); err != nil {
				fail(line, err)
				continue
			}
			r.Requests, r.DurationSec, r.ReadBytes, seen["requests"] = n, d/1000, b, true
		case strings.HasPrefix(line, "Socket errors:"):
			if err := parseSocketErrors(strings.TrimPrefix(line, "Socket errors:"), &r); err != nil {
				fail(line, err)
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				fail(line, err)
				continue
			}
			r.Non2xx = n
		case f[0] == "Requests/sec:" && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				fail(line, err)
				continue
			}
			r.RequestsPerSec, seen["rps"] = v, true
		case f[0] == "Transfer/sec:" && len(f) == 2:
			v, err := parseWrkBytes(f[1])
			if err != nil {
				fail(line, err)
				continue
			}
			r.TransferPerSec, seen["transfer"] = v, true
		default:
			inDistribution = inDistribution && strings.HasSuffix(f[0], "%")
		}
	}
	for _, k := range []string{"requests", "rps", "transfer", "p50", "p90", "p99"} {
		if !seen[k] {
			errs = append(errs, fmt.Errorf("no %s line", wrkLineNames[k]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return wrkReport{}, fmt.Errorf("parse wrk report: %w", err)
	}
	return r, nil
}

// wrkLineNames names, for error messages, the lines parseWrk requires.
var wrkLineNames = map[string]string{
	"requests": `"N requests in T, B read"`,
	"rps":      "Requests/sec",
	"transfer": "Transfer/sec",
	"p50":      "50% latency",
	"p90":      "90% latency",
	"p99":      "99% latency",
}

// parseSocketErrors reads " connect 0, read 0, write 0, timeout 12".
func parseSocketErrors(s string, r *wrkReport) error {
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return fmt.Errorf("socket error count %q: want \"<kind> <n>\"", part)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("socket error count %q: %w", part, err)
		}
		switch f[0] {
		case "connect":
			r.ConnectErrors = n
		case "read":
			r.ReadErrors = n
		case "write":
			r.WriteErrors = n
		case "timeout":
			r.Timeouts = n
		default:
			return fmt.Errorf("socket error kind %q: unknown", f[0])
		}
	}
	return nil
}

// wrkTimeUnits are the suffixes wrk's format_time_us writes, in ms.
var wrkTimeUnits = []struct {
	suffix string
	ms     float64
}{
	// "ms" before "s", and "us" before "s", so the longer suffix wins.
	{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60_000}, {"h", 3_600_000},
}

// parseWrkTime turns "812.00us", "1.23ms", "2.00s" or "1.50m" into ms.
func parseWrkTime(s string) (float64, error) {
	for _, u := range wrkTimeUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("time %q: %w", s, err)
			}
			return v * u.ms, nil
		}
	}
	return 0, fmt.Errorf("time %q: no unit (us, ms, s, m, h)", s)
}

// parseWrkBytes turns wrk's binary sizes ("512.00B", "1.50KB", "40.10MB",
// "1.02GB"; powers of 1024) into bytes.
func parseWrkBytes(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "B")
	if !ok {
		return 0, fmt.Errorf("size %q: want a B suffix", s)
	}
	scale := 1.0
	if i := strings.IndexAny(num, "KMGTP"); i >= 0 && i == len(num)-1 {
		scale = float64(uint64(1) << (10 * (strings.IndexByte("_KMGTP", num[i]))))
		num = num[:i]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return v * scale, nil
}
