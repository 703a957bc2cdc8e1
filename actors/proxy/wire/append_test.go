package wire

import (
	"testing"
)

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{200, "HTTP/1.1 200 OK\r\n"},
		{404, "HTTP/1.1 404 Not Found\r\n"},
		{431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{502, "HTTP/1.1 502 Bad Gateway\r\n"},
		{599, "HTTP/1.1 599 \r\n"},
		{799, "HTTP/1.1 799 \r\n"},
	}
	for _, tt := range tests {
		if got := string(AppendStatusLine([]byte("x"), tt.code)); got != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d) = %q, want %q", tt.code, got, "x"+tt.want)
		}
	}
	for _, code := range []int{0, 99, 1000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendStatusLine(%d) did not panic", code)
				}
			}()
			AppendStatusLine(nil, code)
		}()
	}
}

func TestAppendField(t *testing.T) {
	got := AppendField([]byte("A: b\r\n"), []byte("X-Request-Id"), "abc")
	if string(got) != "A: b\r\nX-Request-Id: abc\r\n" {
		t.Errorf("AppendField = %q", got)
	}
}

func TestAppendCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"content-length", "Content-Length"},
		{"CONTENT-LENGTH", "Content-Length"},
		{"x-forwarded-for", "X-Forwarded-For"},
		{"host", "Host"},
		{"a--b", "A--B"},
		{"-x", "-X"},
		{"1a-b", "1a-B"},
		{"foo bar", "foo bar"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(AppendCanonical(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("AppendCanonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEqualFoldAndContainsToken(t *testing.T) {
	if !EqualFold([]byte("Keep-ALIVE"), "keep-alive") || EqualFold([]byte("keep-aliv"), "keep-alive") {
		t.Error("EqualFold is wrong on ASCII case")
	}
	if EqualFold([]byte("\xc3\xa9"), "\xc3\x89") {
		t.Error("EqualFold folded non-ASCII bytes")
	}
	tests := []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true},
		{" Close ", "close", true},
		{"keep-alive, close", "close", true},
		{"keep-alive,close,", "close", true},
		{"closed", "close", false},
		{"x close", "close", false},
		{"", "close", false},
		{",,", "close", false},
	}
	for _, tt := range tests {
		if got := ContainsToken([]byte(tt.v), tt.token); got != tt.want {
			t.Errorf("ContainsToken(%q, %q) = %v, want %v", tt.v, tt.token, got, tt.want)
		}
	}
}
