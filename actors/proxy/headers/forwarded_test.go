package headers

import (
	"net/http"
	"net/netip"
	"testing"
)

func trust(cidrs ...string) Trust {
	ps := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		ps[i] = netip.MustParsePrefix(c)
	}
	return NewTrust(ps)
}

func TestTrustContains(t *testing.T) {
	tr := trust("10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::ffff:172.16.0.0/108", "10.1.2.3/8")
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"10.255.255.255", true},
		{"11.0.0.1", false},
		{"192.168.1.7", true},
		{"192.168.1.8", false},
		{"::ffff:10.0.0.1", true},
		{"fd12::1", true},
		{"fd12::1%eth0", true},
		{"fe80::1", false},
		{"172.16.5.5", true},
		{"::ffff:172.16.5.5", true},
		{"172.32.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := tr.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	var zero Trust
	if zero.Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("zero Trust Contains(127.0.0.1) = true, want false")
	}
	if (Trust{}).Contains(netip.Addr{}) {
		t.Error("zero Trust Contains(invalid) = true, want false")
	}
}

func TestClientIP(t *testing.T) {
	tr := trust("10.0.0.0/8", "2001:db8:ffff::/48")
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer ignores XFF", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted mapped peer unmapped", "::ffff:203.0.113.9", nil, "203.0.113.9"},
		{"trusted peer without XFF", "10.0.0.1", nil, "10.0.0.1"},
		{"trusted peer, one hop", "10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4"},
		{"trusted mapped peer", "::ffff:10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4"},
		{"trusted chain", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4, 10.0.0.2, 10.0.0.3"}, "1.2.3.4"},
		{"several lines", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4", "10.0.0.2,10.0.0.3"}, "1.2.3.4"},
		{"all trusted", "10.0.0.1", []string{"10.0.0.4, 10.0.0.3", "10.0.0.2"}, "10.0.0.4"},
		{"garbage nearest", "10.0.0.1", []string{"1.2.3.4, bogus"}, "10.0.0.1"},
		{"garbage behind a trusted hop", "10.0.0.1", []string{"1.2.3.4, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"garbage left of the client", "10.0.0.1", []string{"bogus, 1.2.3.4, 10.0.0.2"}, "1.2.3.4"},
		{"empty elements skipped", "10.0.0.1", []string{"", " , 1.2.3.4,, ", " "}, "1.2.3.4"},
		{"port stripped", "10.0.0.1", []string{"1.2.3.4:5678, 10.0.0.2:80"}, "1.2.3.4"},
		{"IPv6", "10.0.0.1", []string{"2001:db8::1, 2001:db8:ffff::7"}, "2001:db8::1"},
		{"IPv6 with port", "10.0.0.1", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 in brackets without port is garbage", "10.0.0.1", []string{"[2001:db8::1]"}, "10.0.0.1"},
		{"IPv6 peer trusted", "2001:db8:ffff::1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"mapped address in XFF", "10.0.0.1", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},
		{"mapped trusted address in XFF", "10.0.0.1", []string{"1.2.3.4, ::ffff:10.9.9.9"}, "1.2.3.4"},
		{"zone dropped", "10.0.0.1", []string{"fe80::1%eth0"}, "fe80::1"},
		{"tab as white space", "10.0.0.1", []string{"1.2.3.4\t,\t10.0.0.2"}, "1.2.3.4"},
		{"obfuscated identifier", "10.0.0.1", []string{"_hidden"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.xff != nil {
				h["X-Forwarded-For"] = tt.xff
			}
			got := tr.ClientIP(netip.MustParseAddr(tt.peer), h)
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("ClientIP(%s, XFF %q) = %s, want %s", tt.peer, tt.xff, got, want)
			}
			var values [][]byte
			for _, v := range tt.xff {
				values = append(values, []byte(v))
			}
			got = tr.ClientIPOf(netip.MustParseAddr(tt.peer), values)
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("ClientIPOf(%s, XFF %q) = %s, want %s", tt.peer, tt.xff, got, want)
			}
		})
	}
}

func TestClientIPAllocs(t *testing.T) {
	tr := trust("10.0.0.0/8")
	h := http.Header{"X-Forwarded-For": {"6.6.6.6, 1.2.3.4, 10.0.0.2", "2001:db8::1:2, 10.0.0.3:80"}}
	peer := netip.MustParseAddr("::ffff:10.0.0.1")
	if n := testing.AllocsPerRun(100, func() { tr.ClientIP(peer, h) }); n != 0 {
		t.Errorf("ClientIP allocs = %v, want 0", n)
	}
}

func TestSetForwarded(t *testing.T) {
	peer4 := netip.MustParseAddr("::ffff:10.0.0.1")
	peer6 := netip.MustParseAddr("2001:db8::5")
	tests := []struct {
		name        string
		in          http.Header
		peer        netip.Addr
		trusted     bool
		proto, host string
		want        http.Header
	}{
		{
			name: "untrusted, nothing incoming",
			in:   http.Header{"Accept": {"*/*"}},
			peer: peer6, proto: "http", host: "example.com",
			want: http.Header{"Accept": {"*/*"}, "X-Forwarded-For": {"2001:db8::5"},
				"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"example.com"}},
		},
		{
			name: "untrusted replaces and removes",
			in: http.Header{"X-Forwarded-For": {"6.6.6.6", "7.7.7.7"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"evil"}, "Forwarded": {"for=6.6.6.6"}, "X-Forwarded-Port": {"443"},
				"x-forwarded-prefix": {"/admin"}, "X-Forwardedish": {"kept"}},
			peer: peer4, proto: "http", host: "example.com:8080",
			want: http.Header{"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"example.com:8080"}, "X-Forwardedish": {"kept"}},
		},
		{
			name: "untrusted without host",
			in:   http.Header{"X-Forwarded-Host": {"evil"}},
			peer: peer4, proto: "http",
			want: http.Header{"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "trusted extends and keeps",
			in: http.Header{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8", "9.9.9.9"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"front.example"}, "Forwarded": {"for=1.2.3.4;proto=https"}, "X-Forwarded-Port": {"443"}},
			peer: peer4, trusted: true, proto: "http", host: "example.com",
			want: http.Header{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8, 9.9.9.9, 10.0.0.1"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"front.example"}, "Forwarded": {"for=1.2.3.4;proto=https"}, "X-Forwarded-Port": {"443"}},
		},
		{
			name: "trusted sets what is absent",
			in:   http.Header{"X-Forwarded-Proto": {""}},
			peer: peer6, trusted: true, proto: "http", host: "example.com",
			want: http.Header{"X-Forwarded-For": {"2001:db8::5"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"example.com"}},
		},
		{
			name: "trusted with empty XFF lines",
			in:   http.Header{"X-Forwarded-For": {"", " 1.2.3.4 ", " "}},
			peer: peer4, trusted: true, proto: "http", host: "h",
			want: http.Header{"X-Forwarded-For": {"1.2.3.4, 10.0.0.1"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"h"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.in.Clone()
			SetForwarded(out, tt.peer, tt.trusted, tt.proto, tt.host)
			if !sameHeader(out, tt.want) {
				t.Errorf("SetForwarded(%v, %s, trusted=%v) = %v, want %v", tt.in, tt.peer, tt.trusted, out, tt.want)
			}
		})
	}
}

// A later Add on one forwarding header must not write into another: they
// share one backing array.
func TestSetForwardedAddIsolated(t *testing.T) {
	out := http.Header{}
	SetForwarded(out, netip.MustParseAddr("1.2.3.4"), false, "http", "h")
	out.Add("X-Forwarded-For", "5.6.7.8")
	if got := out["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "http" {
		t.Errorf("X-Forwarded-Proto after Add = %q, want [http]", got)
	}
	if got := out["X-Forwarded-Host"]; len(got) != 1 || got[0] != "h" {
		t.Errorf("X-Forwarded-Host after Add = %q, want [h]", got)
	}
}

func BenchmarkSetForwarded(b *testing.B) {
	peer := netip.MustParseAddr("203.0.113.9")
	src := typicalRequest()
	h := src.Clone()
	b.ReportAllocs()
	for b.Loop() {
		SetForwarded(h, peer, false, "http", "example.com")
	}
}

func BenchmarkClientIPTrustedChain(b *testing.B) {
	tr := trust("10.0.0.0/8", "192.168.0.0/16")
	h := http.Header{"X-Forwarded-For": {"198.51.100.7, 10.1.1.1, 192.168.3.3"}}
	peer := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tr.ClientIP(peer, h)
	}
}
