package proc

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// CopyListening copies out to log line by line until out ends. Each line
// that reads "<who> listening on <addr>", the way the backend program says
// where it listens, offers addr to the channel addr without blocking, so a
// channel of capacity 1 gets the first. It is meant for the goroutine that
// reads a child's output pipe, and returns when the pipe ends.
func CopyListening(out io.Reader, log io.Writer, addr chan<- string) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if _, a, ok := strings.Cut(line, " listening on "); ok {
			select {
			case addr <- a:
			default:
			}
		}
		fmt.Fprintln(log, line)
	}
	// A line too long for the scanner stops it, and what it held is lost;
	// the rest is copied as it comes, so the child never blocks on a full
	// pipe.
	io.Copy(log, out)
}
