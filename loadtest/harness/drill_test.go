package main

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferrum/proxyconf"
)

func TestJudgeDrill(t *testing.T) {
	clean := wrkReport{Requests: 180000}
	ok := []drillExit{{Name: "ferrum-a", PID: 10}, {Name: "ferrum-b", PID: 11}}
	for _, tc := range []struct {
		name    string
		rep     wrkReport
		exits   []drillExit
		errText string
		reasons []string // nil: PASS
	}{
		{name: "clean", rep: clean, exits: ok},
		{name: "read errors", rep: wrkReport{Requests: 1000, ReadErrors: 65}, exits: ok,
			reasons: []string{"65 socket errors (connect 0, read 65, write 0, timeout 0)"}},
		{name: "every kind of socket error", rep: wrkReport{Requests: 1000, ConnectErrors: 1, ReadErrors: 2, WriteErrors: 3, Timeouts: 4}, exits: ok,
			reasons: []string{"10 socket errors (connect 1, read 2, write 3, timeout 4)"}},
		{name: "non-2xx", rep: wrkReport{Requests: 1000, Non2xx: 3}, exits: ok,
			reasons: []string{"3 answers outside 2xx/3xx"}},
		{name: "exit 1", rep: clean, exits: []drillExit{{Name: "ferrum-a", PID: 10, Code: 1}, {Name: "ferrum-b", PID: 11}},
			reasons: []string{"ferrum-a (pid 10) exited 1"}},
		{name: "killed", rep: clean, exits: []drillExit{{Name: "ferrum-a", PID: 10, Code: -1, Error: "ferrum-a (pid 10) still running 10s after SIGTERM; killed"}, ok[1]},
			reasons: []string{"ferrum-a (pid 10) still running 10s after SIGTERM; killed"}},
		{name: "a drain missing", rep: clean, exits: ok[:1], errText: "HAProxy did not put ferrum-a in rotation within 10s",
			reasons: []string{"HAProxy did not put ferrum-a in rotation within 10s", "1 of 2 drains done"}},
		{name: "no requests", rep: wrkReport{}, exits: ok, errText: "wrk: exit status 1",
			reasons: []string{"wrk: exit status 1", "wrk counted no requests"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pass, reasons := judgeDrill(tc.rep, tc.exits, 2, tc.errText)
			if pass != (tc.reasons == nil) || !slices.Equal(reasons, tc.reasons) {
				t.Errorf("judgeDrill = %v, %q; want %v, %q", pass, reasons, tc.reasons == nil, tc.reasons)
			}
		})
	}
}

func TestDrillLine(t *testing.T) {
	p := passResult{Round: 2, Report: wrkReport{Requests: 1000, ReadErrors: 31}, Drill: &drillOutcome{
		ShutdownDelay: "2s", Order: orderStopStart, TimelineFile: "socket_upgrade/timeline.r2.txt",
		Exits: []drillExit{{Name: "ferrum-1", Code: 0}, {Name: "ferrum-2", Code: -1}},
		Pass:  false, Reasons: []string{"31 socket errors (connect 0, read 31, write 0, timeout 0)"},
	}}
	want := "socket_upgrade, round 2: **FAIL**. shutdown_delay 2s, order stop-start; 1000 requests, 31 socket errors " +
		"(connect 0, read 31, write 0, timeout 0), 0 non-2xx; exit codes: ferrum-1 0, ferrum-2 on a signal. " +
		"Why: 31 socket errors (connect 0, read 31, write 0, timeout 0). Timeline: socket_upgrade/timeline.r2.txt"
	if got := drillLine("socket_upgrade", p); got != want {
		t.Errorf("drillLine =\n%s\nwant\n%s", got, want)
	}
}

func TestDrillSummary(t *testing.T) {
	passed := passResult{Round: 1, Report: wrkReport{Requests: 150000, RequestsPerSec: 7500, P50Ms: 7, P90Ms: 14, P99Ms: 40, TransferPerSec: 1 << 20},
		StealPercent: 0.1, Drill: &drillOutcome{ShutdownDelay: "2s", Pass: true, TimelineFile: "rolling_restart/timeline.txt",
			Exits: []drillExit{{Name: "ferrum-a"}, {Name: "ferrum-b"}}}}
	cells := []cell{
		{Scenario: "rolling_restart", Target: drillRolling.target(), Drill: true, Passes: []passResult{passed}},
		{Scenario: "socket_upgrade", Target: drillUpgrade.target(), Drill: true, Skipped: "no socket"},
	}
	summarize(cells)
	md := summaryMarkdown(meta{Settings: map[string]string{}}, cells)
	for _, want := range []string{
		"| rolling_restart | haproxy over 2 ferrum | 7500 | 7.00 ms | 14.00 ms | 40.00 ms | 1.0 MiB/s | – | – | – | 0 | 0 | – | 0.1% | – |",
		"| socket_upgrade | ferrum on a held socket | skipped |",
		"## Restart drills",
		"- rolling_restart, round 1: **PASS**. shutdown_delay 2s; 150000 requests,",
		"- socket_upgrade: skipped: no socket",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestRollingHAProxyConfig(t *testing.T) {
	s := mustScenario(t, "rolling_restart")
	servers := []haproxyServer{{"ferrum-a", "127.0.0.1:1001"}, {"ferrum-b", "127.0.0.1:2001"}}
	f := rollingHAProxyConfig(s, "127.0.0.1:8000", servers, "/run/drill")
	if f.name != "haproxy.cfg" {
		t.Errorf("file name = %q, want haproxy.cfg", f.name)
	}
	assertLines(t, "rolling_restart", f.text, []string{
		"pidfile /run/drill/haproxy.pid",
		"stats socket /run/drill/haproxy.sock mode 600 level user",
		"mode tcp",
		"option tcplog",
		"option dontlog-normal",
		"bind 127.0.0.1:8000",
		"default_backend ferrums",
		"backend ferrums",
		"balance roundrobin",
		"option httpchk GET /health",
		"default-server check inter 250ms fall 1 rise 2",
		"server ferrum-a 127.0.0.1:1001",
		"server ferrum-b 127.0.0.1:2001",
	}, []string{"mode http", "option http-keep-alive", "option redispatch", "option redispatch 1"})
}

// TestRollingHAProxyConfigValid has HAProxy itself check the config, when
// it is installed.
func TestRollingHAProxyConfigValid(t *testing.T) {
	bin := haproxyBin()
	if bin == "" {
		t.Skip("haproxy is not installed")
	}
	dir := t.TempDir()
	f := rollingHAProxyConfig(mustScenario(t, "rolling_restart"), "127.0.0.1:8000",
		[]haproxyServer{{"ferrum-a", "127.0.0.1:1001"}, {"ferrum-b", "127.0.0.1:2001"}}, dir)
	path, err := writeFiles(dir, []genFile{f})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c: %v\n%s", err, out)
	}
}

// showStat is the start of HAProxy 2.6's `show stat` for the rolling
// restart's setup, cut after the status column and a few more.
const showStat = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,
proxy,FRONTEND,,,0,0,9985,0,0,0,0,0,0,,,,,OPEN,,,,
ferrums,ferrum-a,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,
ferrums,ferrum-b,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,1,1,0,
ferrums,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,1,1,0,
other,ferrum-c,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,

`

func TestParseServerStates(t *testing.T) {
	for _, tc := range []struct {
		name, text, backend string
		want                map[string]string
		wantErr             string
	}{
		{name: "servers of the backend", text: showStat, backend: "ferrums",
			want: map[string]string{"ferrum-a": "UP", "ferrum-b": "DOWN 1/2"}},
		{name: "another backend", text: showStat, backend: "other", want: map[string]string{"ferrum-c": "MAINT"}},
		{name: "no such backend", text: showStat, backend: "none", want: map[string]string{}},
		{name: "no header", text: "ferrums,ferrum-a,UP\n", backend: "ferrums", wantErr: "no header line"},
		{name: "no status column", text: "# pxname,svname,scur\nferrums,ferrum-a,0\n", backend: "ferrums", wantErr: "lacks pxname, svname or status"},
		{name: "short row", text: "# pxname,svname,scur,status\nferrums,ferrum-a\n", backend: "ferrums", want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServerStates(tc.text, tc.backend)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseServerStates(%s) error = %v, want one with %q", tc.name, err, tc.wantErr)
				}
				return
			}
			if err != nil || !mapsEqual(got, tc.want) {
				t.Errorf("parseServerStates(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestServerUp(t *testing.T) {
	for status, want := range map[string]bool{
		"UP": true, "UP 1/2": true, "DOWN": false, "DOWN 1/2": false, "MAINT": false, "no check": false, "": false, "UPX": false,
	} {
		if got := serverUp(status); got != want {
			t.Errorf("serverUp(%q) = %v, want %v", status, got, want)
		}
	}
}

// TestDrillFerrumConfigLoads feeds each drill's config to ferrum's own
// loader and checks the keys the drill depends on.
func TestDrillFerrumConfigLoads(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		delay    time.Duration
	}{{"rolling_restart", rollingDelay}, {"socket_upgrade", upgradeDelay}, {"socket_upgrade", 0}} {
		t.Run(tc.scenario+"/"+tc.delay.String(), func(t *testing.T) {
			text := drillFerrumConfig(mustScenario(t, tc.scenario), "127.0.0.1:8000", []string{"127.0.0.1:1001", "127.0.0.1:2001"}, tc.delay)
			path := filepath.Join(t.TempDir(), "ferrum.toml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := proxyconf.Load(path)
			if err != nil {
				t.Fatalf("proxyconf.Load: %v\n%s", err, text)
			}
			if c.Server.Listen != "127.0.0.1:8000" || c.Server.ShutdownDelay != tc.delay || c.Server.GracefulShutdownTimeout != drillGraceful {
				t.Errorf("server = listen %q, shutdown_delay %v, graceful_shutdown_timeout %v; want 127.0.0.1:8000, %v, %v",
					c.Server.Listen, c.Server.ShutdownDelay, c.Server.GracefulShutdownTimeout, tc.delay, drillGraceful)
			}
			if c.Log.Level != slog.LevelInfo {
				t.Errorf("log.level = %v, want info: the drill waits for server_start", c.Log.Level)
			}
			if len(c.Routes) != 1 || len(c.Routes[0].Backends) != 2 {
				t.Errorf("routes = %+v, want one over two backends", c.Routes)
			}
		})
	}
	// Both drained together must end before stop sends SIGKILL.
	if rollingDelay+drillGraceful >= stopGrace || upgradeDelay+drillGraceful >= stopGrace {
		t.Errorf("shutdown_delay + graceful_shutdown_timeout reaches stopGrace %v", stopGrace)
	}
}

func TestPickScenarios(t *testing.T) {
	benchmarks := []string{"healthy_get", "large_response", "retry_get", "upload_post", "many_routes", "many_routes_baseline"}
	for _, tc := range []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{list: "all", want: benchmarks},
		{list: "rolling_restart", want: []string{"rolling_restart"}},
		{list: "socket_upgrade, rolling_restart", want: []string{"rolling_restart", "socket_upgrade"}},
		{list: "socket_upgrade,healthy_get", want: []string{"healthy_get", "socket_upgrade"}},
		{list: "all,socket_upgrade", want: append(slices.Clone(benchmarks), "socket_upgrade")},
		{list: "rolling", wantErr: true},
		{list: " , ", wantErr: true},
	} {
		got, err := pickScenarios(tc.list)
		var names []string
		for _, s := range got {
			names = append(names, s.name)
		}
		if (err != nil) != tc.wantErr || !slices.Equal(names, tc.want) {
			t.Errorf("pickScenarios(%q) = %v, %v; want %v (error: %v)", tc.list, names, err, tc.want, tc.wantErr)
		}
	}
}

func TestDrillFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantDelay time.Duration // for a drill whose own delay is 7s
		wantOrder string
		wantErr   string
	}{
		{args: nil, wantDelay: 7 * time.Second, wantOrder: orderStopStart},
		{args: []string{"--shutdown-delay", "0s"}, wantDelay: 0, wantOrder: orderStopStart},
		{args: []string{"--shutdown-delay", "1500ms", "--upgrade-order", "start-stop"}, wantDelay: 1500 * time.Millisecond, wantOrder: orderStartStop},
		{args: []string{"--shutdown-delay", "-1s"}, wantErr: "want a duration >= 0"},
		{args: []string{"--upgrade-order", "restart"}, wantErr: `--upgrade-order "restart": want stop-start or start-stop`},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseFlags(%q) error = %v, want one with %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || o.drillDelay(7*time.Second) != tc.wantDelay || o.upgradeOrder != tc.wantOrder {
			t.Errorf("parseFlags(%q): delay %v, order %q, error %v; want %v, %q", tc.args, o.drillDelay(7*time.Second), o.upgradeOrder, err, tc.wantDelay, tc.wantOrder)
		}
	}
}

func TestParseSNMP(t *testing.T) {
	text := "Tcp: RtoAlgorithm OutRsts InCsumErrors\nTcp: 1 34756 0\n" +
		"TcpExt: TCPAbortOnData ListenOverflows\nTcpExt: 12 3\n" +
		"Udp: InDatagrams\n" + // a header with no values after it
		"IpExt: InNoRoutes Broken\nIpExt: 5 x\n"
	got := parseSNMP(text)
	want := map[string]int64{"Tcp.RtoAlgorithm": 1, "Tcp.OutRsts": 34756, "Tcp.InCsumErrors": 0,
		"TcpExt.TCPAbortOnData": 12, "TcpExt.ListenOverflows": 3, "IpExt.InNoRoutes": 5}
	if len(got) != len(want) {
		t.Errorf("parseSNMP = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseSNMP[%q] = %d, want %d", k, got[k], v)
		}
	}
}

func TestCounterDeltas(t *testing.T) {
	before := map[string]int64{"TcpExt.TCPAbortOnData": 10, "Tcp.OutRsts": 100, "TcpExt.ListenOverflows": 0}
	for _, tc := range []struct {
		name  string
		after map[string]int64
		want  string
	}{
		{"none grew", before, ""},
		{"resets", map[string]int64{"TcpExt.TCPAbortOnData": 41, "Tcp.OutRsts": 140, "TcpExt.ListenOverflows": 0},
			"31 connections closed with unread data (reset) (TcpExt.TCPAbortOnData), 40 resets sent (Tcp.OutRsts)"},
		{"overflow", map[string]int64{"TcpExt.TCPAbortOnData": 10, "Tcp.OutRsts": 100, "TcpExt.ListenOverflows": 7},
			"7 accept queue overflows (TcpExt.ListenOverflows)"},
		{"unreadable after", map[string]int64{}, ""},
	} {
		if got := counterDeltas(before, tc.after); got != tc.want {
			t.Errorf("counterDeltas(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFerrumEnv(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("GOGC", "100")
	for _, tc := range []struct {
		gogc, wantGOGC string
	}{{"400", "400"}, {"", "100"}} {
		env := ferrumEnv(tc.gogc)
		var gogc []string
		for _, kv := range env {
			if strings.HasPrefix(kv, "LISTEN_") {
				t.Errorf("ferrumEnv(%q) passes %s on", tc.gogc, kv)
			}
			if v, ok := strings.CutPrefix(kv, "GOGC="); ok {
				gogc = append(gogc, v)
			}
		}
		if !slices.Equal(gogc, []string{tc.wantGOGC}) {
			t.Errorf("ferrumEnv(%q) GOGC = %q, want [%s]", tc.gogc, gogc, tc.wantGOGC)
		}
	}
}

// TestActivatedCommand runs the socket activation command line with a
// script in ferrum's place: it must see LISTEN_PID equal to its own PID,
// LISTEN_FDS=1, a socket in descriptor 3 and ferrum's arguments.
func TestActivatedCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-ferrum")
	body := "#!/bin/sh\n" +
		`[ "$LISTEN_PID" = "$$" ] && echo pid-ok` + "\n" +
		`echo "fds=$LISTEN_FDS args=$*"` + "\n" +
		`[ -S /proc/$$/fd/3 ] && echo fd3-socket` + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	socket, addr, err := holdSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer socket.Close()
	if _, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:]); err != nil {
		t.Errorf("holdSocket address %q has no port", addr)
	}
	out, err := activatedCommand(script, "/etc/ferrum.toml", socket, "400").Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"pid-ok", "fds=1 args=-config /etc/ferrum.toml", "fd3-socket"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("the started program printed %q, want a line %q", out, want)
		}
	}
}
