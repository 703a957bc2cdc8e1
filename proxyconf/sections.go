package proxyconf

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Each read function below fills a section from its table, starting from the
// values already in dst: the defaults for a global section, the resolved
// global section for a route's override. So a key left out is inherited, and
// a key with a bad value is reported and leaves the inherited value in place.
// Checks that involve two keys look at the resolved values but report only
// when one of the keys was set in this very table: a route does not repeat a
// problem of the global section it merely inherited.

func readServer(t *table, s *Server) {
	defer t.done()
	if v, ok := t.text("listen"); ok {
		if err := checkHostPort(v); err != nil {
			t.problem("listen", "%v", err)
		} else {
			s.Listen = v
			t.accept("listen")
		}
	}
	t.durationOrZero("shutdown_delay", &s.ShutdownDelay)
	t.duration("graceful_shutdown_timeout", &s.GracefulShutdownTimeout)
	t.duration("client_header_timeout", &s.ClientHeaderTimeout)
	t.duration("client_body_timeout", &s.ClientBodyTimeout)
	integer(t, "client_body_min_rate", &s.ClientBodyMinRate, 0, math.MaxInt64)
	t.duration("idle_timeout", &s.IdleTimeout)
	integer(t, "max_header_bytes", &s.MaxHeaderBytes, 1, math.MaxInt)
	readTrustedProxies(t, &s.TrustedProxies)
	t.boolean("fail_on_dead_pool", &s.FailOnDeadPool)
}

// readTrustedProxies accepts CIDRs and bare IPs; a bare IP trusts that one
// address. Host bits of a CIDR are masked off ("10.1.2.3/8" is 10.0.0.0/8).
func readTrustedProxies(t *table, dst *[]netip.Prefix) {
	const k = "trusted_proxies"
	v, ok := t.value(k)
	if !ok {
		return
	}
	list, isList := asList(v)
	if !isList {
		t.problem(k, `must be an array of CIDRs or IPs such as ["10.0.0.0/8"], not %s`, describe(v))
		return
	}
	prefixes := make([]netip.Prefix, 0, len(list))
	for i, e := range list {
		p, err := parseTrusted(e)
		if err != nil {
			t.elemProblem(k, i, err.Error())
			continue
		}
		prefixes = append(prefixes, p)
	}
	if len(prefixes) == len(list) {
		*dst = prefixes
		t.accept(k)
	}
}

func parseTrusted(v any) (netip.Prefix, error) {
	s, ok := v.(string)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("must be a string, not %s", describe(v))
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as \"10.0.0.0/8\"", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP nor a CIDR", s)
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Errorf("%q: an IPv6 zone cannot be trusted; drop the %%%s", s, a.Zone())
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkHostPort accepts what a listener can bind: host:port, the host empty,
// a name or an IP, the port numeric in 0..65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf(`%q is not host:port; write it like "0.0.0.0:8080" or ":8080"`, s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number in 0..65535", s, port)
	}
	if strings.ContainsFunc(host, spaceOrControl) {
		return fmt.Errorf("%q: host contains white space", s)
	}
	return nil
}

// listenersClash reports whether two valid listen addresses would fight over
// one port: the same non-zero port on the same host, or on any host when
// either of them binds every address.
func listenersClash(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	return ha == hb || isWildcard(ha) || isWildcard(hb)
}

func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || err == nil && a.IsUnspecified()
}

func readUpstream(t *table, u *Upstream) {
	defer t.done()
	t.duration("connect_timeout", &u.ConnectTimeout)
	t.duration("read_timeout", &u.ReadTimeout)
	integer(t, "max_request_body_bytes", &u.MaxRequestBodyBytes, 1, math.MaxInt64)
	integer(t, "max_response_body_bytes", &u.MaxResponseBodyBytes, 1, math.MaxInt64)
	integer(t, "max_idle_conns_per_backend", &u.MaxIdleConnsPerBackend, 1, math.MaxInt)
	t.duration("idle_conn_timeout", &u.IdleConnTimeout)
}

func readHealth(t *table, h *Health) {
	defer t.done()
	t.duration("interval", &h.Interval)
	t.duration("timeout", &h.Timeout)
	if v, ok := t.text("endpoint"); ok {
		switch {
		case !strings.HasPrefix(v, "/"):
			t.problem("endpoint", "%q must start with \"/\"", v)
		case strings.ContainsFunc(v, spaceOrControl) || strings.Contains(v, "#"):
			t.problem("endpoint", "%q must not contain white space, control characters or \"#\"", v)
		default:
			h.Endpoint = v
			t.accept("endpoint")
		}
	}
	integer(t, "failure_threshold", &h.FailureThreshold, 1, math.MaxInt)
	integer(t, "recovery_threshold", &h.RecoveryThreshold, 1, math.MaxInt)
	t.statusRange("success_status", &h.SuccessStatus)
	t.statusRange("passive_failure_status", &h.PassiveFailureStatus)
	t.duration("ejection_duration", &h.EjectionDuration)
	t.duration("max_ejection_duration", &h.MaxEjectionDuration)
	integer(t, "max_ejected_percent", &h.MaxEjectedPercent, 0, 100)
	t.durationOrZero("slow_start", &h.SlowStart)

	if h.MaxEjectionDuration < h.EjectionDuration {
		switch {
		case t.accepted("max_ejection_duration"):
			t.problem("max_ejection_duration", "%s is shorter than ejection_duration %s",
				h.MaxEjectionDuration, h.EjectionDuration)
		case t.accepted("ejection_duration"):
			t.problem("ejection_duration", "%s is longer than max_ejection_duration %s",
				h.EjectionDuration, h.MaxEjectionDuration)
		}
	}
}

func readRetry(t *table, r *Retry) {
	defer t.done()
	integer(t, "max_attempts", &r.MaxAttempts, 1, math.MaxInt)
	t.duration("total_timeout", &r.TotalTimeout)
	t.duration("backoff", &r.Backoff)
	readStatusList(t, "retry_on_status", &r.RetryOnStatus)
	integer(t, "max_buffered_body_bytes", &r.MaxBufferedBodyBytes, 0, math.MaxInt64)
	integer(t, "budget_percent", &r.BudgetPercent, 0, 100)
	integer(t, "min_retry_concurrency", &r.MinRetryConcurrency, 0, math.MaxInt)
}

// readStatusList reads k, an array of status codes; an empty array is allowed.
func readStatusList(t *table, k string, dst *[]int) {
	v, ok := t.value(k)
	if !ok {
		return
	}
	list, isList := asList(v)
	if !isList {
		t.problem(k, "must be an array of status codes such as [502, 503], not %s", describe(v))
		return
	}
	codes := make([]int, 0, len(list))
	for i, e := range list {
		n, isInt := e.(int64)
		switch {
		case !isInt:
			t.elemProblem(k, i, "must be a status code, not "+describe(e))
		case !isStatus(n):
			t.elemProblem(k, i, fmt.Sprintf("%d is not a status code (100..599)", n))
		default:
			codes = append(codes, int(n))
		}
	}
	if len(codes) == len(list) {
		*dst = codes
		t.accept(k)
	}
}

// readDebug reads [debug]; serverListen is the resolved server.listen, which
// debug.listen must not clash with, or "" when the file's was rejected.
func readDebug(t *table, d *Debug, serverListen string) {
	defer t.done()
	t.boolean("expose_backend_health", &d.ExposeBackendHealth)
	t.boolean("expose_metrics", &d.ExposeMetrics)
	if v, ok := t.text("auth_token"); ok {
		if isBlank(v) {
			t.problem("auth_token", "is only white space; leave it empty for no token")
		} else {
			d.AuthToken = v
			t.accept("auth_token")
		}
	}
	if v, ok := t.text("listen"); ok && v != "" {
		switch err := checkHostPort(v); {
		case err != nil:
			t.problem("listen", "%v", err)
		case listenersClash(v, serverListen):
			t.problem("listen", "%q clashes with server.listen %q; leave it empty to serve the debug endpoints there",
				v, serverListen)
		default:
			d.Listen = v
			t.accept("listen")
		}
	}
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

func readLog(t *table, l *Log) {
	defer t.done()
	if v, ok := t.text("level"); ok {
		if level, known := logLevels[v]; known {
			l.Level = level
			t.accept("level")
		} else {
			t.problem("level", "%q is not one of debug, info, warn, error", v)
		}
	}
	if v, ok := t.text("format"); ok {
		if v == "text" || v == "json" {
			l.Format = v
			t.accept("format")
		} else {
			t.problem("format", "%q is not one of text, json", v)
		}
	}
	t.boolean("access_log", &l.AccessLog)
	t.boolean("access_log_query", &l.AccessLogQuery)
}
