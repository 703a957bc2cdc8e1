package headers

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// maxRequestIDLen is the longest X-Request-Id ferrum keeps from a client.
const maxRequestIDLen = 128

// idByte marks the bytes an X-Request-Id may hold: ASCII letters, digits
// and "-_.:".
var idByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.:" {
		t[c] = true
	}
	return t
}()

// ValidRequestID reports whether s is an X-Request-Id ferrum passes on as
// the client sent it: 1 to 128 characters, each an ASCII letter, digit, or
// one of "-_.:". Anything else is replaced by NewRequestID.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte[s[i]] {
			return false
		}
	}
	return true
}

// Request ids are a per-process random prefix followed by a per-process
// sequence number, both in lower-case hex.
const (
	idPrefixBytes = 12 // 96 random bits, drawn once per process
	idSeqBytes    = 8  // the 64-bit sequence number
	idLen         = 2 * (idPrefixBytes + idSeqBytes)
)

var (
	// idPrefix is written once at package initialization.
	idPrefix = func() (p [2 * idPrefixBytes]byte) {
		var raw [idPrefixBytes]byte
		rand.Read(raw[:]) // never fails since Go 1.24; it crashes instead
		hex.Encode(p[:], raw[:])
		return p
	}()
	// idSeq counts the ids this process has issued; NewRequestID advances it.
	idSeq atomic.Uint64
)

// NewRequestID returns a fresh X-Request-Id: 40 lower-case hex characters
// that pass ValidRequestID. Any goroutine may call it; it does not block and
// costs one allocation, the string.
//
// Ids are unique across restarts and instances. Within a process the
// sequence number never repeats (2^64 ids would take centuries), and it is
// passed through a bijection, so its hex differs for every id too while
// hiding how many requests the process has served. Across processes the
// 96-bit random prefix, drawn from crypto/rand at start-up, tells them
// apart: even a fleet that starts 10^9 processes over its life collides
// with probability below 10^-11.
func NewRequestID() string {
	var b [idLen]byte
	copy(b[:], idPrefix[:])
	v := scramble(idSeq.Add(1))
	const digits = "0123456789abcdef"
	for i := idLen - 1; i >= len(idPrefix); i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// scramble is the splitmix64 finalizer: each step (xor with a right shift
// of itself, multiply by an odd constant) is invertible, so distinct inputs
// give distinct outputs.
func scramble(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
