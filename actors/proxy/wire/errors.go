package wire

import (
	"errors"
	"strconv"
)

// Error is a protocol violation found in a message ferrum read. Status is the
// answer ferrum owes the peer when the message came from a client: 400 for
// malformed or ambiguous syntax, 431 for an oversized head, 501 for a transfer
// coding other than chunked, 505 for an unsupported HTTP version. Errors about
// an upstream response carry 502. Reason is a short constant phrase, safe to
// log and free of message bytes.
//
// The package returns shared, preallocated values so that rejecting a request
// allocates nothing: callers match them with errors.As or errors.Is and must
// never modify one.
type Error struct {
	Status int
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	return "wire: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// ErrHeadTooLarge is returned by Reader.ReadHead when a head does not end within
// the limit. Its Status is 431; for an upstream response the caller answers 502.
var ErrHeadTooLarge = &Error{Status: 431, Reason: "message head too large"}

// ErrBufferFull is returned by Reader.Peek when asked for more bytes than the
// reader's buffer holds.
var ErrBufferFull = errors.New("wire: peek larger than the buffer")

// errBadRead is returned when the source reports an impossible byte count.
var errBadRead = errors.New("wire: source returned an invalid count")

// Request-line and target errors.
var (
	errRequestLine = &Error{Status: 400, Reason: "malformed request line"}
	errMethod      = &Error{Status: 400, Reason: "invalid method"}
	errVersion     = &Error{Status: 400, Reason: "malformed HTTP version"}
	errVersionNS   = &Error{Status: 505, Reason: "unsupported HTTP version"}
	errTarget      = &Error{Status: 400, Reason: "invalid request target"}
	errTargetForm  = &Error{Status: 400, Reason: "request target form not allowed for method"}
)

// Request framing and Host errors.
var (
	errNoHost         = &Error{Status: 400, Reason: "missing Host"}
	errManyHosts      = &Error{Status: 400, Reason: "more than one Host"}
	errBadHost        = &Error{Status: 400, Reason: "invalid Host"}
	errBadLength      = &Error{Status: 400, Reason: "invalid Content-Length"}
	errManyLengths    = &Error{Status: 400, Reason: "more than one Content-Length"}
	errCoding         = &Error{Status: 501, Reason: "unsupported Transfer-Encoding"}
	errCoding10       = &Error{Status: 400, Reason: "Transfer-Encoding in HTTP/1.0 request"}
	errTrailerDecl    = &Error{Status: 400, Reason: "Trailer names a framing field"}
	errStatusLine     = &Error{Status: 502, Reason: "malformed status line"}
	errRespVersion    = &Error{Status: 502, Reason: "unsupported response version"}
	errRespLength     = &Error{Status: 502, Reason: "invalid Content-Length in response"}
	errRespLengths    = &Error{Status: 502, Reason: "more than one Content-Length in response"}
	errRespCoding     = &Error{Status: 502, Reason: "unsupported Transfer-Encoding in response"}
	errRespCoding10   = &Error{Status: 502, Reason: "Transfer-Encoding in HTTP/1.0 response"}
	errRespTrailerDec = &Error{Status: 502, Reason: "Trailer names a framing field in response"}
)

// Chunked-body errors. They carry 400; a caller decoding an upstream body
// treats any of them as an invalid response.
var (
	errChunkSize     = &Error{Status: 400, Reason: "invalid chunk size"}
	errChunkLine     = &Error{Status: 400, Reason: "chunk size line too long"}
	errChunkExt      = &Error{Status: 400, Reason: "invalid chunk extension"}
	errChunkEOL      = &Error{Status: 400, Reason: "chunk line not ended by CRLF"}
	errChunkData     = &Error{Status: 400, Reason: "chunk data not followed by CRLF"}
	errChunkOverhead = &Error{Status: 400, Reason: "too much chunk overhead"}
	errTrailer       = &Error{Status: 400, Reason: "invalid trailer field"}
	errTrailerSize   = &Error{Status: 400, Reason: "trailer section too large"}
)

// fieldErrs holds the field-line errors, one set for requests (400) and one
// for responses (502), indexed by a fieldFault.
type fieldFault uint8

const (
	faultBareLF fieldFault = iota
	faultObsFold
	faultName
	faultValue
	faultUnterminated
	faultTrailing
	numFaults
)

var fieldErrs = func() (t [2][numFaults]*Error) {
	reasons := [numFaults]string{
		faultBareLF:       "line not ended by CRLF",
		faultObsFold:      "obsolete line folding",
		faultName:         "invalid field name",
		faultValue:        "invalid field value",
		faultUnterminated: "head not ended by an empty line",
		faultTrailing:     "bytes after the end of the head",
	}
	for f, r := range reasons {
		t[0][f] = &Error{Status: 400, Reason: r}
		t[1][f] = &Error{Status: 502, Reason: r + " in response"}
	}
	return t
}()

// fieldErr returns the shared error for fault f in a request or a response.
func fieldErr(f fieldFault, resp bool) *Error {
	if resp {
		return fieldErrs[1][f]
	}
	return fieldErrs[0][f]
}
