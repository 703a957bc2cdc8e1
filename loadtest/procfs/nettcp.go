package procfs

import (
	"os"
	"strconv"
	"strings"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	TCPEstablished = "01"
	TCPTimeWait    = "06"
	TCPCloseWait   = "08"
	TCPListen      = "0A"
)

// Socket is one row of /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	// Local and Remote are the endpoints as the kernel writes them,
	// "HEXADDR:HEXPORT" ("0100007F:1F90" is 127.0.0.1:8080).
	Local, Remote string
	// State is one of the TCP constants above, in upper case.
	State string
	// Inode identifies the socket among a process's file descriptors
	// (/proc/<pid>/fd/N links to "socket:[Inode]"); 0 for a socket no
	// descriptor holds any more, such as one in TIME_WAIT.
	Inode uint64
}

// LocalPort is the port of Local, or -1 when it cannot be read.
func (s Socket) LocalPort() int { return Port(s.Local) }

// RemotePort is the port of Remote, or -1 when it cannot be read.
func (s Socket) RemotePort() int { return Port(s.Remote) }

// ParseNetTCP reads a /proc/net/tcp or tcp6 text. Rows it cannot read are
// skipped: the header, and a row torn while the kernel printed the table.
func ParseNetTCP(text string) []Socket {
	var out []Socket
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Socket{Local: f[1], Remote: f[2], State: strings.ToUpper(f[3]), Inode: inode})
	}
	return out
}

// ReadNetTCP reads table ("tcp" or "tcp6") of the network namespace pid
// is in, through /proc/<pid>/net.
func ReadNetTCP(pid int, table string) ([]Socket, error) {
	b, err := os.ReadFile(pidPath(pid, "net/"+table))
	if err != nil {
		return nil, err
	}
	return ParseNetTCP(string(b)), nil
}

// Port is the port of an endpoint written "0100007F:1F90", or -1.
func Port(endpoint string) int {
	i := strings.LastIndexByte(endpoint, ':')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseUint(endpoint[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}
