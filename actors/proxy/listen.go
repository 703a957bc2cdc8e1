package proxy

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// patientListener keeps accepting through errors such as running out of file
// descriptors: each is logged and retried after a growing pause, so an
// accept error never ends the process. Only closing the listener ends Accept.
type patientListener struct {
	net.Listener
	log *slog.Logger
}

// Patient wraps ln so that accept errors are logged and retried with backoff.
func Patient(ln net.Listener, log *slog.Logger) net.Listener {
	return &patientListener{Listener: ln, log: log}
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
		l.log.Warn("accept_error", "listen", l.Addr().String(), "error", err.Error(), "retry_in", pause)
		time.Sleep(pause)
	}
}
