// Package wire reads and writes HTTP/1.1 messages for ferrum's own connection
// loop without allocating in steady state: a buffered Reader that cuts message
// heads off a connection, parsers that turn a head into a Request or Response
// whose fields alias the head, a ChunkedReader for chunked bodies, and append
// helpers that build heads in a caller's buffer. It depends on the standard
// library only and knows nothing of routing or proxying.
//
// The parsers are strict on purpose. A proxy that accepts what its backend
// frames differently is how requests get smuggled, so ferrum accepts a subset
// of what net/http's server accepts (the package's fuzz tests check it against
// net/http) and of RFC 9112. Requests:
//
//   - Request line: a token method, one SP, a request-target, one SP,
//     "HTTP/1.1" or "HTTP/1.0", CRLF. Extra spaces, a missing version, a
//     lower-case "http", a bare LF: 400. Another well-formed HTTP/x.y: 505.
//   - Request-target: visible ASCII except '#', so no bytes above 0x7e; every
//     '%' in the path starts a percent-encoded octet. Origin-form with any
//     method but CONNECT; absolute-form with an http or https scheme and a
//     non-empty host; authority-form (host:port) with CONNECT only; "*" with
//     OPTIONS only. Hosts are letters, digits, "-._~" or an IPv6 literal:
//     no userinfo, no percent-encoding.
//   - Field lines: a token name followed at once by ':' (white space before
//     the colon: 400); a value of visible ASCII, obs-text, SP and HTAB only
//     (NUL, CR, LF or another control byte: 400); no obsolete line folding;
//     every line ends with CRLF.
//   - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, its value empty
//     or host[:port] as above.
//   - Content-Length: one field at most, even when copies agree; digits only,
//     no sign, no list, no overflow of an int64.
//   - Transfer-Encoding: one field whose value is "chunked" (any case); any
//     other coding, list or repeated field is 501, and any Transfer-Encoding
//     in an HTTP/1.0 request is 400. With Content-Length as well, the
//     request is chunked, the Content-Length is dropped and the connection
//     closes after the response. A chunked request's Trailer field must not
//     announce Content-Length, Transfer-Encoding or Trailer.
//
// Responses follow the same field rules, a status line of "HTTP/1.x", one SP,
// three digits from 100 to 599 and an optional reason; their body length
// follows RFC 9112 §6.3, and a Transfer-Encoding other than a single "chunked"
// makes them invalid rather than delimited by close. Chunked bodies take 1 to
// 16 hex digits of size that fit an int64, syntactically valid extensions
// right after the size, CRLF everywhere, and a bounded trailer section whose
// fields are checked and discarded.
//
// Errors about a message are *Error values carrying the status to answer, so
// callers never match text.
package wire
