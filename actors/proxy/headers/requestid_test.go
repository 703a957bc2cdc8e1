package headers

import (
	"encoding/hex"
	"math/bits"
	"strings"
	"sync"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"empty", "", false},
		{"one char", "a", true},
		{"one punctuation", ":", true},
		{"128 chars", strings.Repeat("x", 128), true},
		{"129 chars", strings.Repeat("x", 129), false},
		{"every allowed kind", "azAZ09-_.:", true},
		{"uuid", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736", true},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"plus", "a+b", false},
		{"equals", "ab==", false},
		{"tab", "a\tb", false},
		{"newline", "a\nb", false},
		{"NUL", "a\x00b", false},
		{"DEL", "a\x7fb", false},
		{"non-ASCII", "caf\u00e9", false},
		{"high byte", "a\xffb", false},
		{"bad last of 128", strings.Repeat("x", 127) + "!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidRequestID(tt.id); got != tt.want {
				t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestValidRequestIDEveryByte(t *testing.T) {
	for c := range 256 {
		want := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if got := ValidRequestID(string([]byte{byte(c)})); got != want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", byte(c), got, want)
		}
	}
}

func TestNewRequestIDUnique(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	for range n {
		id := NewRequestID()
		if !ValidRequestID(id) || len(id) != idLen {
			t.Fatalf("NewRequestID() = %q: not a valid %d-char id", id, idLen)
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("NewRequestID() = %q twice in %d", id, len(seen))
		}
		seen[id] = struct{}{}
	}
}

func TestNewRequestIDUniqueConcurrent(t *testing.T) {
	const workers, each = 8, 10_000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], NewRequestID())
			}
		})
	}
	wg.Wait()
	seen := make(map[string]struct{}, workers*each)
	for _, list := range ids {
		for _, id := range list {
			if _, dup := seen[id]; dup {
				t.Fatalf("NewRequestID() = %q twice across goroutines", id)
			}
			seen[id] = struct{}{}
		}
	}
}

// Consecutive ids must not give away the sequence: about half their bits
// differ, as for random ids, not just the low ones.
func TestNewRequestIDLooksRandom(t *testing.T) {
	a, b := NewRequestID(), NewRequestID()
	ra, _ := hex.DecodeString(a)
	rb, _ := hex.DecodeString(b)
	diff := 0
	for i := range ra {
		diff += bits.OnesCount8(ra[i] ^ rb[i])
	}
	if diff < 32 || diff > 96 {
		t.Errorf("NewRequestID() = %q then %q: %d of 128 bits differ, want about 64", a, b, diff)
	}
}

func TestNewRequestIDAllocs(t *testing.T) {
	var sink string
	if n := testing.AllocsPerRun(1000, func() { sink = NewRequestID() }); n > 1 {
		t.Errorf("NewRequestID allocs = %v, want at most 1 (the string)", n)
	}
	_ = sink
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(1000, func() { buf = AppendRequestID(buf[:0]) }); n != 0 {
		t.Errorf("AppendRequestID allocs = %v, want 0", n)
	}
	if !ValidRequestID(buf) || len(buf) != idLen {
		t.Errorf("AppendRequestID = %q, want a valid %d-character id", buf, idLen)
	}
	id := "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
	if n := testing.AllocsPerRun(1000, func() { ValidRequestID(id) }); n != 0 {
		t.Errorf("ValidRequestID allocs = %v, want 0", n)
	}
}

func BenchmarkNewRequestID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewRequestID()
	}
}

func BenchmarkNewRequestIDParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = NewRequestID()
		}
	})
}
