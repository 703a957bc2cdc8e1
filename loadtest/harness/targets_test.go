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
	if _, line, ok := findTarget(targetHTTPUtil, dir); ok || !strings.Contains(line, "skipping it") {
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
