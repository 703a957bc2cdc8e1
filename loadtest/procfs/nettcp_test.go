package procfs

import (
	"net"
	"os"
	"slices"
	"testing"
)

// netTCP is a /proc/net/tcp text: a listener on 8080, an established
// connection and a CLOSE_WAIT one to port 3001 (0x0BB9), a TIME_WAIT row
// with no inode, a row in lower case, a row whose inode is unreadable and a
// torn row.
const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:0BB9 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C351 0100007F:0BB9 08 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C352 0100007F:0BB9 06 00000000:00000000 03:00000a3c 00000000     0        0 0 3 0000000000000000
   4: 0100007f:1f91 00000000:0000 0a 00000000:00000000 00:00000000 00000000     0        0 1004 1
   5: 0100007F:C354 0100007F:0BB9 01 00000000:00000000 00:00000000 00000000     0        0 x 1
   6: 0100007F:C353
`

// netTCP6 is a /proc/net/tcp6 text with one CLOSE_WAIT to port 3001.
const netTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C360 00000000000000000000000001000000:0BB9 08 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 20 4 30 10 -1
`

func TestParseNetTCP(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []Socket
	}{
		{"v4", netTCP, []Socket{
			{Local: "0100007F:1F90", Remote: "00000000:0000", State: TCPListen, Inode: 1001},
			{Local: "0100007F:C350", Remote: "0100007F:0BB9", State: TCPEstablished, Inode: 1002},
			{Local: "0100007F:C351", Remote: "0100007F:0BB9", State: TCPCloseWait, Inode: 1003},
			{Local: "0100007F:C352", Remote: "0100007F:0BB9", State: TCPTimeWait, Inode: 0},
			{Local: "0100007f:1f91", Remote: "00000000:0000", State: TCPListen, Inode: 1004},
		}},
		{"v6", netTCP6, []Socket{
			{Local: "00000000000000000000000001000000:C360", Remote: "00000000000000000000000001000000:0BB9", State: TCPCloseWait, Inode: 2001},
		}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseNetTCP(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("ParseNetTCP = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPort(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		want     int
	}{
		{"0100007F:1F90", 8080},
		{"0100007f:1f90", 8080},
		{"00000000000000000000000001000000:0BB9", 3001},
		{"00000000:0000", 0},
		{"nocolon", -1},
		{"0100007F:ZZ", -1},
		{"0100007F:10000", -1},
	} {
		if got := Port(tc.endpoint); got != tc.want {
			t.Errorf("Port(%q) = %d, want %d", tc.endpoint, got, tc.want)
		}
	}
	s := Socket{Local: "0100007F:1F90", Remote: "0100007F:0BB9"}
	if s.LocalPort() != 8080 || s.RemotePort() != 3001 {
		t.Errorf("LocalPort, RemotePort = %d, %d; want 8080, 3001", s.LocalPort(), s.RemotePort())
	}
}

// TestReadOwnListener finds a listener this very process holds in what
// the running kernel writes.
func TestReadOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	socks, err := ReadNetTCP(os.Getpid(), "tcp")
	if err != nil {
		t.Skip("no /proc/<pid>/net/tcp:", err)
	}
	found := slices.ContainsFunc(socks, func(s Socket) bool {
		return s.State == TCPListen && s.LocalPort() == port && s.Inode != 0
	})
	if !found {
		t.Errorf("ReadNetTCP(self, tcp) = %+v, want the listener on port %d", socks, port)
	}
	if _, err := ReadNetTCP(1<<30, "tcp"); err == nil {
		t.Error("ReadNetTCP of a pid that does not exist: no error")
	}
}
