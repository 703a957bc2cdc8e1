package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHTTPUtilTarget(t *testing.T) {
	ref := target{name: targetHTTPUtil, bin: "/bin/dir/refproxy"}
	if !ref.proxied() {
		t.Error("the httputil reference is not proxied, want a proxy process to measure")
	}
	s := mustScenario(t, "many_routes")
	l := testLayout(4)
	cmd := ref.command("/res/s/httputil.args", l, "400")
	want := []string{"/bin/dir/refproxy", "-listen", "127.0.0.1:8000",
		"-backends", "http://127.0.0.1:1001,http://127.0.0.1:2001,http://127.0.0.1:3001,http://127.0.0.1:4001"}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("command = %q, want %q", cmd.Args, want)
	}
	if cmd.Env != nil {
		t.Errorf("command environment = %q, want the harness's own (GOGC goes to ferrum alone)", cmd.Env)
	}
	if got := ref.readyPath(s); got != "/health" {
		t.Errorf("readyPath = %q, want /health, which the reference answers itself", got)
	}
	if got := (target{name: targetNginx}).readyPath(s); got != "/r0/item" {
		t.Errorf("nginx readyPath = %q, want the scenario's path", got)
	}

	files := ref.configs(s, l)
	if len(files) != 1 || files[0].name != "httputil.args" {
		t.Fatalf("configs = %v, want httputil.args alone", files)
	}
	assertLines(t, "httputil.args", files[0].text, []string{
		"refproxy " + strings.Join(want[1:], " "),
	}, nil)
}

func TestFindTarget(t *testing.T) {
	dir := t.TempDir()
	if _, line, ok := findTarget(targetHTTPUtil, dir); ok || !strings.Contains(line, "skipping httputil") {
		t.Errorf("findTarget(httputil) with no refproxy = ok %v, line %q; want a skip line", ok, line)
	}
	// A stand-in that prints a version line as the real one does.
	bin := filepath.Join(dir, refproxyBin)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'refproxy: test'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, _, ok := findTarget(targetHTTPUtil, dir)
	if !ok || got.name != targetHTTPUtil || got.bin != bin || got.version != "refproxy: test" {
		t.Errorf("findTarget(httputil) = %+v, %v; want the binary in --bin-dir and its version", got, ok)
	}
	if got, _, ok := findTarget(targetGoFloor, dir); !ok || got.bin != bin {
		t.Errorf("findTarget(gofloor) = %+v, %v; want the same refproxy binary", got, ok)
	}
	if got, _, ok := findTarget(targetDirect, dir); !ok || got.proxied() {
		t.Errorf("findTarget(direct) = %+v, %v; want an unproxied target", got, ok)
	}
}

func TestCompareTargetOrder(t *testing.T) {
	got, err := pickTargets("direct, httputil,haproxy,nginx,httputil")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, ","); s != "nginx,haproxy,httputil,direct" {
		t.Errorf("pickTargets = %s, want nginx,haproxy,httputil,direct", s)
	}
	if _, err := pickTargets("httputils"); err == nil {
		t.Error("pickTargets(httputils) = nil error, want one")
	}
}

// TestGoFloorTarget: gofloor runs the same binary in its -floor mode, with
// the httputil reference's flags otherwise.
func TestGoFloorTarget(t *testing.T) {
	ref := target{name: targetGoFloor, bin: "/bin/dir/refproxy"}
	l := testLayout(2)
	cmd := ref.command("/res/s/gofloor.args", l, "")
	want := []string{"/bin/dir/refproxy", "-floor", "-listen", "127.0.0.1:8000",
		"-backends", "http://127.0.0.1:1001,http://127.0.0.1:2001"}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("command = %q, want %q", cmd.Args, want)
	}
	s := mustScenario(t, "healthy_get")
	if got := ref.readyPath(s); got != "/health" {
		t.Errorf("readyPath = %q, want /health, which the floor answers itself", got)
	}
	files := ref.configs(s, l)
	if len(files) != 1 || files[0].name != "gofloor.args" {
		t.Fatalf("configs = %v, want gofloor.args alone", files)
	}
	assertLines(t, "gofloor.args", files[0].text, []string{"refproxy " + strings.Join(want[1:], " ")}, nil)
	if !noRetries(cell{Scenario: "retry_get", Target: targetGoFloor}) {
		t.Error("gofloor in retry_get is not marked as not retrying")
	}
}
