package proxy

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"ferrum/actors"
)

// patientListener keeps accepting through errors such as running out of file
// descriptors: each is retried after a growing pause, so an accept error
// never ends the process. A shortage of ferrum's own (file descriptors,
// memory) is logged through the shortage log, at most every few seconds;
// other errors once a second at most. Only closing the listener ends Accept.
type patientListener struct {
	net.Listener
	log      *slog.Logger
	shortage *shortageLog
	others   rateLog
}

func (l *patientListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		if what, ok := actors.LocalShortage(err); ok {
			l.shortage.note(l.log, what)
		} else {
			l.others.every = time.Second
			if skipped, ok := l.others.allow(); ok {
				l.log.Warn("accept_error", "listen", l.Addr().String(), "error", err.Error(), "retry_in", pause,
					"not_logged_before", skipped)
			}
		}
		time.Sleep(pause)
	}
}
