package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ferrum.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckShippedConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "ferrum.toml"}, &out, &errOut); code != 0 {
		t.Fatalf("-check on the shipped ferrum.toml: exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"/api", "/static", "http://127.0.0.1:3001", "http://127.0.0.1:4000", "round_robin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("route table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckRejects(t *testing.T) {
	good := "[[route]]\npath_prefix = \"/api\"\nbackends = [\"http://127.0.0.1:3001\"]\n"
	cases := []struct {
		name, conf, wantKey string
	}{
		{"unknown key", "[server]\nlisten_addr = \"x\"\n" + good, "server.listen_addr"},
		{"https backend", "[[route]]\npath_prefix = \"/api\"\nbackends = [\"https://127.0.0.1:3001\"]\n", "route[0].backends[0]"},
		{"duplicate prefix", good + good, "route[1].path_prefix"},
		{"bad duration", "[upstream]\nread_timeout = \"fast\"\n" + good, "upstream.read_timeout"},
		{"empty backends", "[[route]]\npath_prefix = \"/api\"\nbackends = []\n", "route[0].backends"},
		{"typo in a route section", good + "[route.helth]\ninterval = \"1s\"\n", "route[0].helth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run([]string{"-check", "-config", writeConfig(t, c.conf)}, &out, &errOut)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (stderr %q)", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), c.wantKey) {
				t.Fatalf("stderr %q does not name %s", errOut.String(), c.wantKey)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), runtime.Version()) || !strings.HasPrefix(out.String(), "ferrum ") {
		t.Fatalf("-version printed %q", out.String())
	}
}

func TestMissingConfigFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-config", filepath.Join(t.TempDir(), "nope.toml")}, &out, &errOut); code != 1 {
		t.Fatalf("missing file: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "nope.toml") {
		t.Fatalf("stderr %q does not name the file", errOut.String())
	}
}
