package systemd

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// TestListenersNotOurs: without the variables, or with LISTEN_PID naming
// another process, no socket is taken.
func TestListenersNotOurs(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
	}{
		{"no variables", nil},
		{"another process's", map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1"}},
		{"garbage pid", map[string]string{"LISTEN_PID": "x", "LISTEN_FDS": "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lns, err := Listeners(env(c.env), 4242)
			if err != nil || len(lns) != 0 {
				t.Fatalf("Listeners = %v, %v; want none", lns, err)
			}
		})
	}
}

func TestListenersBadCount(t *testing.T) {
	pid := 4242
	if _, err := Listeners(env(map[string]string{"LISTEN_PID": strconv.Itoa(pid), "LISTEN_FDS": "-1"}), pid); err == nil ||
		!strings.Contains(err.Error(), "LISTEN_FDS") {
		t.Fatalf("LISTEN_FDS=-1: err %v, want one naming LISTEN_FDS", err)
	}
}

func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := NewNotifier(env(map[string]string{"NOTIFY_SOCKET": sock}))
	if !n.Enabled() {
		t.Fatal("a notifier with NOTIFY_SOCKET set is not enabled")
	}
	for _, state := range []string{"READY=1", Reloading(), "STOPPING=1"} {
		if err := n.Notify(state); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 128)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(buf)
		if err != nil || string(buf[:k]) != state {
			t.Fatalf("read %q, %v; want %q", buf[:k], err, state)
		}
	}
	if !strings.HasPrefix(Reloading(), "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("Reloading() = %q", Reloading())
	}
}

func TestNotifyWithoutSocket(t *testing.T) {
	n := NewNotifier(env(nil))
	if n.Enabled() || n.Notify("READY=1") != ErrNoSocket {
		t.Fatal("a notifier without NOTIFY_SOCKET sent something")
	}
}
