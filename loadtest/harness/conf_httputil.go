package main

import (
	"fmt"
	"strings"
)

// httputilArgs is the command line of the httputil reference
// (loadtest/refproxy) for layout l: where it listens and its backends,
// which it takes in turn. It has nothing else to set. It does not retry,
// and it has one catch-all route, whatever the scenario's route count.
func httputilArgs(l layout) []string {
	urls := make([]string, len(l.backends))
	for i, a := range l.backends {
		urls[i] = "http://" + a
	}
	return []string{"-listen", l.listen, "-backends", strings.Join(urls, ",")}
}

// httputilConfig writes httputil.args for s. It records the reference's
// command line beside the other proxies' configs; the reference is started
// with these flags, not on the file.
func httputilConfig(s scenario, l layout) []genFile {
	return refproxyArgsFile(s, "httputil", "The httputil reference (loadtest/refproxy)",
		"one catch-all route, round robin, no retries, the default http.Transport", httputilArgs(l))
}

// goFloorArgs is the command line of the floor reference (refproxy -floor,
// loadtest/refproxy/floor.go) for layout l.
func goFloorArgs(l layout) []string {
	return append([]string{"-floor"}, httputilArgs(l)...)
}

// goFloorConfig writes gofloor.args for s, as httputilConfig does.
func goFloorConfig(s scenario, l layout) []genFile {
	return refproxyArgsFile(s, "gofloor", "The floor reference (loadtest/refproxy -floor)",
		"a goroutine per client connection passing heads and bodies unchanged, round robin, no retries", goFloorArgs(l))
}

// refproxyArgsFile is the <name>.args file recording how a refproxy
// target, described by what and setup, is started for s.
func refproxyArgsFile(s scenario, name, what, setup string, args []string) []genFile {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s for ferrum's load-test scenario %s: %s.\n", what, s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md. Its whole setup is this command line:\n")
	fmt.Fprintf(&b, "# %s.\n", setup)
	fmt.Fprintf(&b, "refproxy %s\n", strings.Join(args, " "))
	return []genFile{{name: name + ".args", text: b.String()}}
}
