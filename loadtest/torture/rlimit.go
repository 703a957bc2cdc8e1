//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// nofileEnv, in the torture command's environment, makes it the wrapper
// that runs ferrum under a low file limit when prlimit is not installed:
// it sets RLIMIT_NOFILE (soft and hard) to the variable's value and execs
// its arguments, so the limit holds from ferrum's first instruction and
// ferrum keeps the pid the experiment watches.
const nofileEnv = "FERRUM_TORTURE_EXEC_NOFILE"

// execWithNofile is the wrapper's whole life; it exits 127 if it cannot
// exec.
func execWithNofile(limit string, argv []string) {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err == nil && len(argv) == 0 {
		err = fmt.Errorf("nothing to run")
	}
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err == nil {
		env := make([]string, 0, len(os.Environ()))
		for _, kv := range os.Environ() {
			if len(kv) < len(nofileEnv)+1 || kv[:len(nofileEnv)+1] != nofileEnv+"=" {
				env = append(env, kv)
			}
		}
		err = syscall.Exec(argv[0], argv, env)
	}
	fmt.Fprintf(os.Stderr, "torture: %s=%s wrapper: %v\n", nofileEnv, limit, err)
	os.Exit(127)
}

// lowNofile is the wrapper that runs ferrum with at most n file
// descriptors: prlimit when installed, else this very program re-executed
// as the wrapper.
func (e *env) lowNofile(n int) (wrapper, error) {
	if e.prlimitBin != "" {
		return wrapper{prefix: []string{e.prlimitBin, fmt.Sprintf("--nofile=%d:%d", n, n), "--"}}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return wrapper{}, fmt.Errorf("find this program for the file-limit wrapper: %w", err)
	}
	return wrapper{prefix: []string{self}, env: []string{fmt.Sprintf("%s=%d", nofileEnv, n)}}, nil
}

// raiseNofile lifts this process's soft RLIMIT_NOFILE to its hard limit
// (the Go runtime usually has already) and returns the limits in force.
func raiseNofile() (soft, hard uint64, err error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, err
	}
	if l.Cur < l.Max {
		want := syscall.Rlimit{Cur: l.Max, Max: l.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return l.Cur, l.Max, err
		}
		l = want
	}
	return l.Cur, l.Max, nil
}
