package main

import (
	"slices"
	"strings"
	"testing"
)

func TestRoundOrder(t *testing.T) {
	targets := []string{"A", "B", "C"}
	var seq []string
	for r := range 4 {
		seq = append(seq, strings.Join(roundOrder(targets, r), ""))
	}
	if got, want := strings.Join(seq, " "), "ABC CBA ABC CBA"; got != want {
		t.Errorf("orders over 4 rounds = %q, want %q", got, want)
	}
	if !slices.Equal(targets, []string{"A", "B", "C"}) {
		t.Errorf("roundOrder changed its input to %v", targets)
	}
	var two []string
	for r := range 3 {
		two = append(two, roundOrder([]string{"A", "B"}, r)...)
	}
	if got, want := strings.Join(two, " "), "A B B A A B"; got != want {
		t.Errorf("two targets over 3 rounds = %q, want %q", got, want)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := median(in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median(%v) reordered its input to %v", tt.in, in)
		}
	}
	passes := []passResult{{CPUSeconds: 3, Report: wrkReport{Requests: 1000}}, {CPUSeconds: 1, Report: wrkReport{Requests: 1000}}, {CPUSeconds: 2, Report: wrkReport{Requests: 1000}}}
	if got := medianOf(passes, passResult.cpuMsPer1k); got != 2000 {
		t.Errorf("medianOf(cpuMsPer1k) = %v, want 2000", got)
	}
}
