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
	var b strings.Builder
	fmt.Fprintf(&b, "# The httputil reference (loadtest/refproxy) for ferrum's load-test scenario %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md. Its whole setup is this command line:\n")
	b.WriteString("# one catch-all route, round robin, no retries, the default http.Transport.\n")
	fmt.Fprintf(&b, "refproxy %s\n", strings.Join(httputilArgs(l), " "))
	return []genFile{{name: "httputil.args", text: b.String()}}
}

// goFloorArgs is the command line of the floor reference (refproxy -floor,
// loadtest/refproxy/floor.go) for layout l.
func goFloorArgs(l layout) []string {
	return append([]string{"-floor"}, httputilArgs(l)...)
}

// goFloorConfig writes gofloor.args for s, as httputilConfig does.
func goFloorConfig(s scenario, l layout) []genFile {
	var b strings.Builder
	fmt.Fprintf(&b, "# The floor reference (loadtest/refproxy -floor) for ferrum's load-test scenario %s: %s.\n", s.name, s.about)
	b.WriteString("# Written by loadtest/harness; see docs/benchmarking.md. Its whole setup is this command line:\n")
	b.WriteString("# a goroutine per client connection passing heads and bodies unchanged, round robin, no retries.\n")
	fmt.Fprintf(&b, "refproxy %s\n", strings.Join(goFloorArgs(l), " "))
	return []genFile{{name: "gofloor.args", text: b.String()}}
}
