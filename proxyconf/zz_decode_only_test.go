package proxyconf

import (
	"os"
	"testing"

	"github.com/BurntSushi/toml"
)

func BenchmarkDecodeOnly(b *testing.B) {
	text := string(manyRoutes(10000, os.Getenv("OV") != ""))
	b.ReportAllocs()
	for b.Loop() {
		var doc map[string]any
		if _, err := toml.Decode(text, &doc); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkDecodeOnlyAny(b *testing.B) {
	text := string(manyRoutes(10000, os.Getenv("OV") != ""))
	b.ReportAllocs()
	for b.Loop() {
		var doc any
		if _, err := toml.Decode(text, &doc); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkPrechecks(b *testing.B) {
	text := string(manyRoutes(10000, os.Getenv("OV") != ""))
	b.ReportAllocs()
	for b.Loop() {
		checkText(text)
		checkNesting(text)
	}
}
