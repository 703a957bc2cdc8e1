package fakebackend

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, for the benchmark.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTP measures the hot path: a GET with no knobs.
func BenchmarkServeHTTP(b *testing.B) {
	for _, size := range []int{0, 64 << 10} {
		b.Run("bytes="+strconv.Itoa(size), func(b *testing.B) {
			h := Handler(Options{Name: "bench", BodyBytes: size})
			req := httptest.NewRequest("GET", "/api/users", nil)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
