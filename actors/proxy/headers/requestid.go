package headers

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
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
func ValidRequestID[T ~string | ~[]byte](s T) bool {
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

// idLen is the length of an id NewRequestID makes: 128 bits in hex.
const idLen = 32

var (
	// idCipher encrypts the sequence number under a key drawn from
	// crypto/rand at start-up; it is only read after initialization.
	idCipher = func() cipher.Block {
		var key [16]byte
		rand.Read(key[:]) // never fails since Go 1.24; it crashes instead
		b, err := aes.NewCipher(key[:])
		if err != nil {
			panic(err) // a 16-byte key is always valid
		}
		return b
	}()
	// idSeq counts the ids this process has issued; NewRequestID advances it.
	idSeq atomic.Uint64
)

// NewRequestID returns a fresh X-Request-Id: 32 lower-case hex characters
// that pass ValidRequestID. Any goroutine may call it; it does not block and
// costs one allocation, the string.
//
// The id is the process's sequence number encrypted with AES under a random
// per-process key. Within a process ids never repeat (a block cipher is a
// permutation, and the sequence never wraps); without the key they can be
// neither predicted nor traced back to a count of requests; and processes,
// each with its own key, produce unrelated ids: any two collide with
// probability 2^-128.
func NewRequestID() string {
	var b [idLen]byte
	return string(AppendRequestID(b[:0]))
}

// AppendRequestID appends a fresh id, as NewRequestID makes, to dst and
// returns the extended slice. It allocates only when dst must grow.
func AppendRequestID(dst []byte) []byte {
	// The cipher's buffers come from a pool: passed to an interface
	// method they would otherwise be allocated on every call.
	buf := idBlocks.Get().(*[2][16]byte)
	in, out := buf[0][:], buf[1][:]
	binary.LittleEndian.PutUint64(in[:8], idSeq.Add(1))
	idCipher.Encrypt(out, in)
	n := len(dst)
	dst = append(dst, make([]byte, idLen)...)
	hex.Encode(dst[n:], out)
	idBlocks.Put(buf)
	return dst
}

var idBlocks = sync.Pool{New: func() any { return new([2][16]byte) }}
