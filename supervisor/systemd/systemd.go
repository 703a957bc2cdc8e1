// Package systemd speaks the two systemd protocols a long-running service
// needs: socket activation (sd_listen_fds: listening sockets handed over in
// file descriptors 3 and up, announced by LISTEN_PID and LISTEN_FDS) and
// readiness notification (sd_notify: datagrams such as "READY=1" to the
// unix socket NOTIFY_SOCKET names). Both are plain environment and socket
// conventions; nothing here links against systemd, and without systemd
// every function is a no-op.
package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// firstFD is the first file descriptor systemd passes (SD_LISTEN_FDS_START).
const firstFD = 3

// Listeners returns the listening sockets systemd passed to this process,
// in order, and unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so that
// no child takes them for its own. It returns none when the variables are
// absent or meant for another process (LISTEN_PID is not ours). Each
// descriptor is made close-on-exec. getenv and pid stand for os.Getenv and
// os.Getpid.
func Listeners(getenv func(string) string, pid int) ([]net.Listener, error) {
	pidText, fdsText := getenv("LISTEN_PID"), getenv("LISTEN_FDS")
	if pidText == "" || fdsText == "" {
		return nil, nil
	}
	defer func() {
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			_ = os.Unsetenv(k)
		}
	}()
	if p, err := strconv.Atoi(pidText); err != nil || p != pid {
		return nil, nil
	}
	n, err := strconv.Atoi(fdsText)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("systemd socket activation: LISTEN_FDS=%q is not a count of descriptors", fdsText)
	}
	lns := make([]net.Listener, 0, n)
	for fd := firstFD; fd < firstFD+n; fd++ {
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		ln, err := net.FileListener(f)
		f.Close() // FileListener holds a duplicate
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("systemd socket activation: descriptor %d is not a listening socket: %w", fd, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// Notifier sends state changes to systemd when NOTIFY_SOCKET is set; the
// zero Notifier (or one made without the variable) sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// NewNotifier returns the notifier for the socket NOTIFY_SOCKET names
// (getenv stands for os.Getenv). An address starting with "@" is in the
// abstract namespace.
func NewNotifier(getenv func(string) string) *Notifier {
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return &Notifier{}
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// ErrNoSocket is returned by Notify when NOTIFY_SOCKET was not set.
var ErrNoSocket = errors.New("NOTIFY_SOCKET not set")

// Notify sends one state string, such as "READY=1" or
// "RELOADING=1\nMONOTONIC_USEC=...", in one datagram. It does not block
// for long: the datagram goes to a local socket.
func (n *Notifier) Notify(state string) error {
	if n == nil || n.addr == nil {
		return ErrNoSocket
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// Enabled reports whether there is a socket to notify.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Reloading is the state string for a reload that begins now: systemd
// wants the CLOCK_MONOTONIC time with it.
func Reloading() string {
	var ts syscall.Timespec
	_ = clockMonotonic(&ts)
	usec := ts.Sec*1e6 + ts.Nsec/1e3
	return "RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10)
}
