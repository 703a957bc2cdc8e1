//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Verdict outcomes.
const (
	pass = "PASS"
	fail = "FAIL"
	skip = "SKIP"
)

// verdict is the outcome of one experiment.
type verdict struct {
	name   string
	status string // pass, fail or skip
	took   time.Duration
	// numbers are the key measurements, "name=value", in a stable order.
	numbers []string
	// reasons say why it failed (or why it was skipped); empty on a pass.
	reasons []string
}

// judge builds a verdict from facts and requirements: an experiment's
// judging function records what it measured with note and what must hold
// with need. Not safe for concurrent use.
type judge struct {
	v verdict
}

func newJudge(name string) *judge { return &judge{v: verdict{name: name, status: pass}} }

// note records a key number.
func (j *judge) note(key string, value any) {
	j.v.numbers = append(j.v.numbers, fmt.Sprintf("%s=%v", key, value))
}

// need fails the verdict with the reason when ok is false.
func (j *judge) need(ok bool, format string, args ...any) {
	if ok {
		return
	}
	j.v.status = fail
	j.v.reasons = append(j.v.reasons, fmt.Sprintf(format, args...))
}

// verdict is the verdict so far.
func (j *judge) verdict() verdict { return j.v }

// failed makes a verdict for an experiment that could not measure at all.
func failed(name string, err error) verdict {
	return verdict{name: name, status: fail, reasons: []string{err.Error()}}
}

// skipped makes a verdict for an experiment this machine cannot run.
func skipped(name, why string) verdict {
	return verdict{name: name, status: skip, reasons: []string{why}}
}

// line is the one-line form printed as each experiment ends.
func (v verdict) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%.1fs)", v.status, v.name, v.took.Seconds())
	if len(v.numbers) > 0 {
		b.WriteString(": " + strings.Join(v.numbers, " "))
	}
	if len(v.reasons) > 0 {
		b.WriteString(" -- " + strings.Join(v.reasons, "; "))
	}
	return b.String()
}

// writeTable writes the verdicts as a Markdown table.
func writeTable(w io.Writer, vs []verdict) {
	fmt.Fprintln(w, "| experiment | verdict | time | key numbers | why |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	for _, v := range vs {
		fmt.Fprintf(w, "| %s | %s | %.1fs | %s | %s |\n", v.name, v.status, v.took.Seconds(),
			cell(strings.Join(v.numbers, ", ")), cell(strings.Join(v.reasons, "; ")))
	}
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return "-"
	}
	return s
}

// anyFailed reports whether a verdict failed; a skip is not a failure.
func anyFailed(vs []verdict) bool {
	for _, v := range vs {
		if v.status == fail {
			return true
		}
	}
	return false
}

// firstFew lists up to three of xs and says how many more there are.
func firstFew(xs []string) string {
	if len(xs) <= 3 {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:3], ", "), len(xs)-3)
}
