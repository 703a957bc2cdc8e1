package wire

// statusText holds the reason phrases of RFC 9110 §15 for the codes in use.
var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	208: "Already Reported", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
	414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
	417: "Expectation Failed", 421: "Misdirected Request", 422: "Unprocessable Content",
	423: "Locked", 424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
}

// statusLines holds the whole status line, CRLF included, of every code from
// 100 to 599, built once so that writing one is a single append. A code
// without a known phrase gets an empty reason ("HTTP/1.1 599 \r\n"), which
// RFC 9112 §4 allows.
var statusLines = func() (t [600]string) {
	for code := 100; code < 600; code++ {
		t[code] = "HTTP/1.1 " + string(threeDigits(code)) + " " + statusText[code] + "\r\n"
	}
	return t
}()

// threeDigits returns the decimal digits of a code from 100 to 999.
func threeDigits(code int) []byte {
	return []byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
}

// StatusText returns the reason phrase ferrum writes for code, or "" for a
// code it has none for.
func StatusText(code int) string { return statusText[code] }

// AppendStatusLine appends "HTTP/1.1 <code> <reason>\r\n" to dst and returns
// the extended slice. It allocates only when dst must grow. code must be
// between 100 and 999; codes from 600 up get an empty reason. It panics on any
// other code, which only a programming error can produce.
func AppendStatusLine(dst []byte, code int) []byte {
	if code >= 100 && code < 600 {
		return append(dst, statusLines[code]...)
	}
	if code < 100 || code > 999 {
		panic("wire: status code out of range")
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = append(dst, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
	return append(dst, " \r\n"...)
}

// AppendField appends the field line "name: value\r\n" to dst and returns the
// extended slice. It does not validate: name must be a token and value free
// of CR, LF and NUL, as they are when both come from a parsed head. It
// allocates only when dst must grow.
func AppendField[N, V ~string | ~[]byte](dst []byte, name N, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
