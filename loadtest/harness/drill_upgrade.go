package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The one-host upgrade: the harness holds the listening socket, as
// ferrum.socket makes systemd do, and passes it to each ferrum as systemd
// does (descriptor 3, LISTEN_FDS=1, LISTEN_PID the ferrum's own PID).
// While wrk runs, ferrum is replaced twice, as `systemctl restart ferrum`
// replaces it. Between the old process closing its copy of the socket and
// the new one accepting, connections wait in the socket's backlog.
const (
	// upgradeLength is wrk's run; the upgrades take about 12 s of it
	// (more with a longer shutdown_delay).
	upgradeLength = 20 * time.Second
	// upgradeSettle is the wait before the first upgrade and after each.
	upgradeSettle = 5 * time.Second
	// upgradeDelay is ferrum's shutdown_delay. With no balancer in front
	// it is not for a health check to notice: it gives every busy
	// keep-alive client an answer with Connection: close, so none is left
	// idle when the old process closes its idle connections, which races
	// with the client's next request. A second is ample under wrk; with 0s
	// about 45 requests per upgrade fail here (--shutdown-delay 0s).
	upgradeDelay = time.Second
	// upgrades is how many times ferrum is replaced.
	upgrades = 2
)

// Upgrade orders, for --upgrade-order.
const (
	// orderStopStart is systemctl restart's: SIGTERM to the old process,
	// wait until it exited, then start the new one.
	orderStopStart = "stop-start"
	// orderStartStop starts the new process and waits until it serves
	// before the old one gets SIGTERM, so both accept for a while.
	orderStartStop = "start-stop"
)

// upgradeOrders are the orders --upgrade-order accepts, the default first.
var upgradeOrders = []string{orderStopStart, orderStartStop}

// activatedCommand is how the harness starts ferrum on an inherited
// socket: systemd sets LISTEN_PID to the PID of the process it execs, so
// a shell learns its own PID and keeps it across exec.
func activatedCommand(bin, conf string, socket *os.File, gogc string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -config "$1"`, bin, conf)
	cmd.Env = ferrumEnv(gogc)
	cmd.ExtraFiles = []*os.File{socket}
	return cmd
}

// holdSocket opens a listening socket on a free loopback port and returns
// it as a file the harness keeps until the drill ends, with its address.
// The kernel's backlog is net.core.somaxconn, as for any Go listener; the
// ferrum.socket unit asks for 4096, the default somaxconn of recent
// kernels.
func holdSocket() (*os.File, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, "", fmt.Errorf("hold socket %s: %w", ln.Addr(), err)
	}
	return f, ln.Addr().String(), nil
}

// upgrade runs the socket upgrade. It returns the number of drains the
// plan holds, for the verdict, and what went wrong, if anything.
func (d *drillRun) upgrade(ctx context.Context, out *drillOutcome) (int, error) {
	delay := d.r.o.drillDelay(upgradeDelay)
	order := d.r.o.upgradeOrder
	out.ShutdownDelay, out.Order = delay.String(), order
	socket, addr, err := holdSocket()
	if err != nil {
		return upgrades, err
	}
	defer socket.Close()
	d.tl.add("the harness holds the listening socket %s", addr)
	conf := filepath.Join(d.st.dir, "ferrum.toml")
	if err := os.WriteFile(conf, []byte(drillFerrumConfig(d.st.s, addr, d.st.backends, delay)), 0o644); err != nil {
		return upgrades, err
	}
	bin := d.r.targets[0].bin
	start := func(n int) (*ferrumProc, error) {
		name := fmt.Sprintf("ferrum-%d", n)
		fp, err := d.startFerrum(name, activatedCommand(bin, conf, socket, d.r.o.gogc), d.logPath(name))
		if err != nil {
			return nil, err
		}
		return fp, waitServing(ctx, fp, drillStartBound)
	}
	cur, err := start(1)
	if err != nil {
		return upgrades, err
	}
	if err := waitReady(ctx, "http://"+addr+"/health", cur.Process, drillStartBound); err != nil {
		return upgrades, err
	}

	wrkStart := time.Now()
	wrkDone := d.startWrk(ctx, "http://"+addr+d.st.s.path, upgradeLength)
	planErr := func() error {
		for n := 2; n <= upgrades+1; n++ {
			if err := pause(ctx, upgradeSettle); err != nil {
				return err
			}
			old := cur
			if order == orderStopStart {
				d.drain(old.Process)
			}
			if cur, err = start(n); err != nil {
				return err
			}
			if order == orderStartStop {
				d.drain(old.Process)
			}
		}
		return d.checkTail(wrkStart, upgradeLength)
	}()
	return upgrades, errors.Join(planErr, d.waitWrk(wrkDone))
}
