package proc

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binary is one program of the module for Build to make.
type Binary struct {
	// Name is the file the program is written to, inside Build's dir.
	Name string
	// Pkg is the program's package, relative to the module root.
	Pkg string
}

// The programs every load-test command runs.
var (
	Ferrum  = Binary{Name: "ferrum", Pkg: "."}
	Backend = Binary{Name: "backend", Pkg: "./loadtest/backend"}
)

// ModuleRoot asks the go command where ferrum's go.mod is. command is the
// asking command's package ("./loadtest/scale"), for the error that says
// where to run it from.
func ModuleRoot(command string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run it from the ferrum repository (go run %s)", command)
	}
	return filepath.Dir(gomod), nil
}

// Build runs go build in root, the module root, for each of bins in turn,
// writing each to dir/Name. flags go to every go build before its -o (such
// as -trimpath); the go command's output goes to output. It blocks until
// the last build ends, stops at the first failure, and cancelling ctx
// kills the go command.
func Build(ctx context.Context, root, dir string, flags []string, output io.Writer, bins ...Binary) error {
	for _, b := range bins {
		args := append(append([]string{"build"}, flags...), "-o", filepath.Join(dir, b.Name), b.Pkg)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = output, output
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s in %s: %w", b.Pkg, root, err)
		}
	}
	return nil
}
