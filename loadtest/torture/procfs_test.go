//go:build linux

package main

import (
	"net"
	"os"
	"testing"

	"ferrum/loadtest/procfs"
)

func TestOwnedSockets(t *testing.T) {
	// A listener on 8080, an established connection and a CLOSE_WAIT one
	// to port 3001 (0x0BB9), a TIME_WAIT with no inode, and a CLOSE_WAIT
	// over IPv6.
	all := []procfs.Socket{
		{Local: "0100007F:1F90", Remote: "00000000:0000", State: procfs.TCPListen, Inode: 1001},
		{Local: "0100007F:C350", Remote: "0100007F:0BB9", State: procfs.TCPEstablished, Inode: 1002},
		{Local: "0100007F:C351", Remote: "0100007F:0BB9", State: procfs.TCPCloseWait, Inode: 1003},
		{Local: "0100007F:C352", Remote: "0100007F:0BB9", State: procfs.TCPTimeWait, Inode: 0},
		{Local: "00000000000000000000000001000000:C360", Remote: "00000000000000000000000001000000:0BB9", State: procfs.TCPCloseWait, Inode: 2001},
	}
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
			if got := countState(owned, 3001, procfs.TCPEstablished); got != tt.established {
				t.Errorf("established to 3001 = %d, want %d", got, tt.established)
			}
			if got := countState(owned, 3001, procfs.TCPCloseWait); got != tt.close {
				t.Errorf("close wait to 3001 = %d, want %d", got, tt.close)
			}
			if got := countState(owned, 3002, procfs.TCPCloseWait); got != 0 {
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
		if s.State == procfs.TCPListen && s.LocalPort() == port {
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
