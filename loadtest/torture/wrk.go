//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferrum/loadtest/proc"
)

// wrkLoad is a wrk run that lasts until stop interrupts it; wrk prints its
// report on SIGINT.
type wrkLoad struct {
	c   *proc.Process
	out *bytes.Buffer
}

// startWrk runs wrk with conns connections on url for "ever" (10 minutes;
// stop ends it sooner).
func (r *run) startWrk(url string, conns int) (*wrkLoad, error) {
	threads := min(2, conns)
	cmd := exec.Command(r.wrkBin, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", "600s", "--timeout", "5s", url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	c, err := r.procs.start("wrk", cmd, nil)
	if err != nil {
		return nil, err
	}
	return &wrkLoad{c: c, out: &out}, nil
}

func (w *wrkLoad) stop() tally {
	_ = w.c.Signal(syscall.SIGINT)
	if !w.c.WaitExit(10 * time.Second) {
		w.c.KillGroup()
		return tally{errors: 1, samples: []string{"wrk did not stop within 10s of SIGINT"}}
	}
	t, err := parseWrkTally(w.out.String())
	if err != nil {
		return tally{errors: 1, samples: []string{err.Error()}}
	}
	return t
}

// parseWrkTally reads wrk's report: the requests line, the "Non-2xx or 3xx
// responses" line and the "Socket errors" line (each printed only when
// non-zero). A timeout, read or write error counts as a failed request; a
// connect error too, since wrk retries the connection for the same request.
func parseWrkTally(text string) (tally, error) {
	var t tally
	seen := false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, " requests in "):
			n, err := strconv.ParseInt(strings.Fields(line)[0], 10, 64)
			if err != nil {
				return tally{}, fmt.Errorf("wrk report %q: %w", line, err)
			}
			t.requests, seen = n, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
			if err != nil {
				return tally{}, fmt.Errorf("wrk report %q: %w", line, err)
			}
			t.non2xx = n
		case strings.HasPrefix(line, "Socket errors:"):
			for part := range strings.SplitSeq(strings.TrimPrefix(line, "Socket errors:"), ",") {
				f := strings.Fields(part)
				if len(f) != 2 {
					return tally{}, fmt.Errorf("wrk report %q: unreadable", line)
				}
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return tally{}, fmt.Errorf("wrk report %q: %w", line, err)
				}
				t.errors += n
				if n > 0 {
					t.samples = append(t.samples, fmt.Sprintf("wrk socket errors: %s %d", f[0], n))
				}
			}
		}
	}
	if !seen {
		return tally{}, fmt.Errorf("wrk report has no requests line:\n%s", text)
	}
	if t.non2xx > 0 {
		t.samples = append(t.samples, fmt.Sprintf("wrk: %d non-2xx/3xx responses", t.non2xx))
	}
	t.ok = max(0, t.requests-t.non2xx)
	return t, nil
}
