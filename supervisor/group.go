package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Group runs a process's long-lived goroutines as one unit: every member
// runs in its own goroutine, the first to return (for whatever reason)
// interrupts the others, and Run returns only after all of them returned or
// were given up on. Members are interrupted one at a time in the reverse of
// the order they were added, each waited for before the next, so a process
// adds what must outlive the rest (the actors) first.
//
// A Group is configured and run by one goroutine; it is not reusable.
type Group struct {
	// StopTimeout bounds the wait for each interrupted member; one that
	// ignores its context is logged and given up on. Zero waits for ever.
	StopTimeout time.Duration
	// Log receives members that had to be given up on; nil discards.
	Log     *slog.Logger
	members []member
}

type member struct {
	name string
	run  func(ctx context.Context) error
}

// Add makes run a member. run must return soon after its ctx ends; its error
// (nil included) ends the group when it is the first to return.
func (g *Group) Add(name string, run func(ctx context.Context) error) {
	g.members = append(g.members, member{name: name, run: run})
}

// Ended is what Run reports: the member that returned first and its error.
type Ended struct {
	Member string
	Err    error
}

// Error reads "<member>: <err>".
func (e *Ended) Error() string { return e.Member + ": " + e.Err.Error() }

// Unwrap returns the member's error.
func (e *Ended) Unwrap() error { return e.Err }

// Run runs every member until the first returns, interrupts the rest, and
// returns the first member's error: nil when it returned nil, otherwise an
// *Ended naming it. ctx ending interrupts every member too (then Run returns
// nil unless a member failed first). A member that panics ends the group
// with the panic as its error.
func (g *Group) Run(ctx context.Context) error {
	if len(g.members) == 0 {
		return nil
	}
	type result struct {
		i   int
		err error
	}
	// Sized to the number of members, so no member ever blocks reporting.
	results := make(chan result, len(g.members))
	cancels := make([]context.CancelFunc, len(g.members))
	done := make([]chan struct{}, len(g.members))
	// Members' contexts end only when Run interrupts them, one at a time;
	// ctx ending is one more reason to start doing so.
	base := context.WithoutCancel(ctx)
	for i, m := range g.members {
		mctx, cancel := context.WithCancel(base)
		cancels[i], done[i] = cancel, make(chan struct{})
		go func() {
			defer close(done[i])
			results <- result{i, runMember(mctx, m)}
		}()
	}
	var first result
	select {
	case first = <-results:
	case <-ctx.Done():
		first = result{i: -1}
	}
	for i := len(g.members) - 1; i >= 0; i-- {
		cancels[i]()
		g.wait(done[i], g.members[i].name)
	}
	if first.i < 0 || first.err == nil {
		return nil
	}
	return &Ended{Member: g.members[first.i].name, Err: first.err}
}

func (g *Group) wait(done <-chan struct{}, name string) {
	log := g.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	waitBounded(done, g.StopTimeout, log, name)
}

// runMember runs one member, turning a panic into its error.
func runMember(ctx context.Context, m member) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return m.run(ctx)
}
