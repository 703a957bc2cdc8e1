//go:build !race

package proxy

// raceEnabled reports that the tests run under the race detector.
const raceEnabled = false
