package proxy

import "testing"

func TestCookieValue(t *testing.T) {
	cases := []struct {
		lines []string
		name  string
		want  string
	}{
		{[]string{"a=1; session=abc; z=2"}, "session", "abc"},
		{[]string{"a=1", "session=\"q\""}, "session", "q"}, // one Cookie field per line
		{[]string{"sessionx=1; xsession=2"}, "session", ""},
		{[]string{"session"}, "session", ""},
		{nil, "session", ""},
		{[]string{"  session=sp ;"}, "session", "sp"},
	}
	for _, c := range cases {
		got := ""
		for _, line := range c.lines {
			if v := cookieValue([]byte(line), c.name); len(v) > 0 {
				got = string(v)
				break
			}
		}
		if got != c.want {
			t.Errorf("cookieValue(%q, %q) = %q, want %q", c.lines, c.name, got, c.want)
		}
	}
}

func TestQueryValue(t *testing.T) {
	cases := []struct{ raw, name, want string }{
		{"user=7&x=1", "user", "7"},
		{"x=1&user=a%20b", "user", "a%20b"},
		{"users=1&user=", "user", ""},
		{"user", "user", ""},
		{"", "user", ""},
	}
	for _, c := range cases {
		if got := queryValue(c.raw, c.name); got != c.want {
			t.Errorf("queryValue(%q, %q) = %q, want %q", c.raw, c.name, got, c.want)
		}
	}
}
