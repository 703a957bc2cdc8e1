//go:build linux

package main

import (
	"net"
	"os"
	"testing"
)

// netTCP is a /proc/net/tcp text: a listener on 8080, an established
// connection and a CLOSE_WAIT one to port 3001 (0x0BB9), a TIME_WAIT row
// with no inode, and a torn row.
const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:0BB9 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C351 0100007F:0BB9 08 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C352 0100007F:0BB9 06 00000000:00000000 03:00000a3c 00000000     0        0 0 3 0000000000000000
   4: 0100007F:C353
`

// netTCP6 is a /proc/net/tcp6 text with one CLOSE_WAIT to port 3001.
const netTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C360 00000000000000000000000001000000:0BB9 08 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 20 4 30 10 -1
`

func TestParseNetTCP(t *testing.T) {
	got := parseNetTCP(netTCP)
	want := []tcpSocket{
		{localPort: 8080, remotePort: 0, state: tcpListen, inode: 1001},
		{localPort: 0xC350, remotePort: 3001, state: tcpEstablished, inode: 1002},
		{localPort: 0xC351, remotePort: 3001, state: tcpCloseWait, inode: 1003},
		{localPort: 0xC352, remotePort: 3001, state: tcpTimeWait, inode: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("parseNetTCP = %d rows %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	six := parseNetTCP(netTCP6)
	if len(six) != 1 || six[0] != (tcpSocket{localPort: 0xC360, remotePort: 3001, state: tcpCloseWait, inode: 2001}) {
		t.Errorf("parseNetTCP(tcp6) = %+v, want one CLOSE_WAIT to 3001 with inode 2001", six)
	}
}

func TestOwnedSockets(t *testing.T) {
	all := append(parseNetTCP(netTCP), parseNetTCP(netTCP6)...)
	tests := []struct {
		name               string
		inodes             map[uint64]bool
		established, close int
	}{
		{"everything", map[uint64]bool{1001: true, 1002: true, 1003: true, 2001: true}, 1, 2},
		{"only the v4 close wait", map[uint64]bool{1003: true}, 0, 1},
		{"inode 0 is nobody's", map[uint64]bool{0: true}, 0, 0},
		{"none", map[uint64]bool{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owned := ownedSockets(all, tt.inodes)
			if got := countState(owned, 3001, tcpEstablished); got != tt.established {
				t.Errorf("established to 3001 = %d, want %d", got, tt.established)
			}
			if got := countState(owned, 3001, tcpCloseWait); got != tt.close {
				t.Errorf("close wait to 3001 = %d, want %d", got, tt.close)
			}
			if got := countState(owned, 3002, tcpCloseWait); got != 0 {
				t.Errorf("close wait to 3002 = %d, want 0", got)
			}
		})
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		link string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[]", 0, false},
		{"socket:[12x]", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		if got, ok := socketInode(tt.link); got != tt.want || ok != tt.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tt.link, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEndpointPort(t *testing.T) {
	for in, want := range map[string]int{"0100007F:1F90": 8080, "00000000000000000000000001000000:0BB9": 3001, "nocolon": -1, "0100007F:ZZ": -1} {
		if got := endpointPort(in); got != want {
			t.Errorf("endpointPort(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseNofileLimit(t *testing.T) {
	limits := `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            128                  128                  files
Max locked memory         8388608              8388608              bytes
`
	if got := parseNofileLimit(limits); got != "128/128" {
		t.Errorf("parseNofileLimit = %q, want 128/128", got)
	}
	if got := parseNofileLimit("Max cpu time unlimited unlimited seconds\n"); got != "?" {
		t.Errorf("parseNofileLimit(no line) = %q, want ?", got)
	}
}

func TestProcessSocketsOfSelf(t *testing.T) {
	// A listener this very process holds must show up as its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	socks, err := processSockets(os.Getpid())
	if err != nil {
		t.Fatalf("processSockets(self): %v", err)
	}
	found := false
	for _, s := range socks {
		if s.state == tcpListen && s.localPort == port {
			found = true
		}
	}
	if !found {
		t.Errorf("processSockets(self) = %+v, want the listener on port %d", socks, port)
	}
	if n, err := fdCount(os.Getpid()); err != nil || n < 1 {
		t.Errorf("fdCount(self) = %d, %v; want at least 1", n, err)
	}
}
