// Package cli holds the command-line conventions the load-test commands
// share: they run under a context that Ctrl-C and SIGTERM cancel, take
// flags and nothing else, exit 0 after -h and 2 on a usage error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with the command line's arguments and the standard
// streams, under a context that SIGINT and SIGTERM cancel, and exits the
// process with the code run returns. It does not return.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// NewFlagSet is an empty flag set for the command name that reports its
// errors on stderr and, asked for -h, prints head and then the flags
// there. Its Parse returns errors rather than exiting.
func NewFlagSet(name, head string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, head)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args into fs and refuses any argument left after the flags.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// UsageExit reports err, which reading the command line of the command
// name returned, on stderr and returns the exit code for it: 0 for
// flag.ErrHelp, whose usage text the flag set has printed already, and 2
// for anything else.
func UsageExit(name string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 2
}
