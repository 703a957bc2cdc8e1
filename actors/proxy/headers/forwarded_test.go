package headers

import (
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
			var values [][]byte
			for _, v := range tt.xff {
				values = append(values, []byte(v))
			}
			got := tr.ClientIP(netip.MustParseAddr(tt.peer), values)
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("ClientIP(%s, XFF %q) = %s, want %s", tt.peer, tt.xff, got, want)
			}
		})
	}
}

func TestClientIPAllocs(t *testing.T) {
	tr := trust("10.0.0.0/8")
	peer := netip.MustParseAddr("::ffff:10.0.0.1")
	xff := [][]byte{[]byte("6.6.6.6, 1.2.3.4, 10.0.0.2"), []byte("198.51.100.7, 10.0.0.3:80")}
	if n := testing.AllocsPerRun(100, func() { tr.ClientIP(peer, xff) }); n != 0 {
		t.Errorf("ClientIP over IPv4 hops: allocs = %v, want 0", n)
	}
	// An IPv6 hop is parsed from a string copy: one allocation.
	xff6 := [][]byte{[]byte("6.6.6.6, 1.2.3.4, 10.0.0.2"), []byte("2001:db8::1:2, 10.0.0.3:80")}
	if n := testing.AllocsPerRun(100, func() { tr.ClientIP(peer, xff6) }); n > 1 {
		t.Errorf("ClientIP over an IPv6 hop: allocs = %v, want at most 1", n)
	}
}

func BenchmarkClientIPTrustedChain(b *testing.B) {
	tr := trust("10.0.0.0/8", "192.168.0.0/16")
	xff := [][]byte{[]byte("198.51.100.7, 10.1.1.1, 192.168.3.3")}
	peer := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tr.ClientIP(peer, xff)
	}
}

// FuzzParseIPv4 holds the fast IPv4 reading to netip's: whatever it
// accepts, parseHop (netip) accepts as the same address.
func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4:80", "0.0.0.0", "255.255.255.255:65535", "01.2.3.4", "1.2.3",
		"1.2.3.4.5", "256.1.1.1", "1.2.3.4:", "1.2.3.4:99999", "1..3.4", "::ffff:1.2.3.4", "1.2.3.4:0080"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := parseIPv4(b)
		if !ok {
			return
		}
		want, wok := parseHop(string(b))
		if !wok || want != a {
			t.Fatalf("parseIPv4(%q) = %v, netip reads %v (ok %v)", b, a, want, wok)
		}
	})
}
