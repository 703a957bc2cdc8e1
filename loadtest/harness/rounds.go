package main

import (
	"slices"
)

// roundOrder is the order targets run in during round r (0-based): as given
// in even rounds, reversed in odd ones. Over rounds the sequence reads
// A B, B A, A B, ... so no target always runs first, on a cold machine, or
// last, on one warmed by everyone before it.
func roundOrder[T any](targets []T, r int) []T {
	order := slices.Clone(targets)
	if r%2 == 1 {
		slices.Reverse(order)
	}
	return order
}

// median is the middle of xs, or the mean of the two middle values when
// there is an even number of them; 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// medianOf applies median to one field of every pass.
func medianOf[T any](passes []T, field func(T) float64) float64 {
	xs := make([]float64, len(passes))
	for i, p := range passes {
		xs[i] = field(p)
	}
	return median(xs)
}
