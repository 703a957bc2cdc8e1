package fakebackend

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// applyQuery overrides p with the knobs in r's query.
func (p *plan) applyQuery(r *http.Request) error {
	q := r.URL.Query()
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !validStatus(n) {
			return fmt.Errorf("status=%q: want 200..599", v)
		}
		p.status = n
	}
	if v := q.Get("delay"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("delay=%q: want a duration >= 0", v)
		}
		p.delay = d
	}
	if v := q.Get("bytes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("bytes=%q: want an integer >= 0", v)
		}
		p.bodyBytes = n
	}
	if v := q.Get("echo"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("echo=%q: want 1 or 0", v)
		}
		p.echo = on
	}
	if v := q.Get("chunks"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("chunks=%q: want an integer >= 0", v)
		}
		p.chunks = n
	}
	if v := q.Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("interval=%q: want a duration >= 0", v)
		}
		p.interval = d
	}
	return nil
}

// echoHeaders copies every request header into header as X-Echo-<Name>.
// net/http moves Host and Transfer-Encoding out of r.Header; Host is always
// reported as X-Seen-Host, and Transfer-Encoding is echoed from
// r.TransferEncoding so tests can see the framing the backend received.
func echoHeaders(header http.Header, r *http.Request) {
	for name, values := range r.Header {
		header["X-Echo-"+name] = values
	}
	if len(r.TransferEncoding) > 0 {
		header["X-Echo-Transfer-Encoding"] = r.TransferEncoding
	}
}

func badKnob(w http.ResponseWriter, err error) {
	http.Error(w, "bad query knob "+err.Error(), http.StatusBadRequest)
}
