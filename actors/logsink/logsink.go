// Package logsink holds the actor that writes ferrum's log lines, so that a
// slow stderr never holds up the goroutine that logs (the request path above
// all).
package logsink

import (
	"context"
	"io"
	"sync/atomic"
)

// Sink is an io.Writer for log handlers that never blocks: each Write hands
// a copy of the line to the actor's bounded mailbox, and when the mailbox is
// full the line is dropped and counted. Run writes the lines out in order.
type Sink struct {
	out     io.Writer
	lines   chan []byte   // bounded; full means drop
	dropped atomic.Uint64 // written by Write
}

// New returns a sink writing to out through a mailbox of capacity lines.
func New(out io.Writer, capacity int) *Sink {
	return &Sink{out: out, lines: make(chan []byte, capacity)}
}

// Write queues one log line. It never blocks and never fails: a line that
// does not fit is dropped and counted.
func (s *Sink) Write(p []byte) (int, error) {
	line := append([]byte(nil), p...)
	select {
	case s.lines <- line:
	default:
		s.dropped.Add(1)
	}
	return len(p), nil
}

// Dropped returns how many lines were dropped so far.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Run writes queued lines until ctx ends, then writes what is still queued
// and returns. Only one Run may be active.
func (s *Sink) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case l := <-s.lines:
					_, _ = s.out.Write(l)
				default:
					return nil
				}
			}
		case l := <-s.lines:
			_, _ = s.out.Write(l)
		}
	}
}
