//go:build unix

package proc

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot("./loadtest/proc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("ModuleRoot = %s, which has no go.mod: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "loadtest", "proc")); err != nil {
		t.Errorf("ModuleRoot = %s, which does not hold this package: %v", root, err)
	}
}

func TestModuleRootOutside(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("GO111MODULE", "")
	t.Setenv("GOFLAGS", "")
	_, err := ModuleRoot("./loadtest/scale")
	if err == nil || !strings.Contains(err.Error(), "go run ./loadtest/scale") {
		t.Errorf("ModuleRoot outside the module = %v, want an error naming go run ./loadtest/scale", err)
	}
}

// TestBuildAndRunBackend builds the backend program, starts it, reads
// where it listens and stops it.
func TestBuildAndRunBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the backend program: not in -short")
	}
	root, err := ModuleRoot("./loadtest/proc")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Build(t.Context(), root, dir, []string{"-trimpath"}, &out, Backend); err != nil {
		t.Fatalf("Build: %v\n%s", err, out.Bytes())
	}
	cmd := exec.Command(filepath.Join(dir, Backend.Name), "-listen", "127.0.0.1:0", "-name", "b1")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	p, err := Start("backend b1", cmd, Options{BeforeWait: func() { <-copied }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.KillGroup()
	addrs := make(chan string, 1)
	go func() {
		defer close(copied)
		CopyListening(pipe, io.Discard, addrs)
	}()
	select {
	case addr := <-addrs:
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listening on %q, want 127.0.0.1:PORT", addr)
		}
	case <-p.Done():
		t.Fatalf("backend ended before it listened: %s", p.Status())
	case <-time.After(10 * time.Second):
		t.Fatal("backend printed no listening line within 10s")
	}
	if r := p.Stop(10 * time.Second); r.Killed || r.AlreadyGone || r.ExitCode != 0 {
		t.Errorf("Stop = %+v, want exit code 0 on SIGTERM", r)
	}
}

func TestBuildFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command: not in -short")
	}
	root, err := ModuleRoot("./loadtest/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = Build(t.Context(), root, t.TempDir(), nil, &out, Binary{Name: "x", Pkg: "./no/such/package"})
	if err == nil || !strings.HasPrefix(err.Error(), "build ./no/such/package in "+root+": ") {
		t.Errorf("Build(missing package) = %v, want a build error", err)
	}
	if out.Len() == 0 {
		t.Error("the go command's complaint did not reach output")
	}
}
