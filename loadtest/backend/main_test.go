package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args       []string
		wantListen string
		wantName   string
		wantErr    string
	}{
		{args: nil, wantListen: "127.0.0.1:3001"},
		{args: []string{"-port", "3002"}, wantListen: "127.0.0.1:3002"},
		{args: []string{"-listen", "0.0.0.0:4000", "-name", "static"}, wantListen: "0.0.0.0:4000", wantName: "static"},
		{args: []string{"-listen", ":1", "-port", "2"}, wantErr: "-listen and -port both given"},
		{args: []string{"-port", "70000"}, wantErr: "-port 70000"},
		{args: []string{"-status", "42"}, wantErr: "status 42"},
		{args: []string{"-fail-every", "-1"}, wantErr: "fail every -1"},
		{args: []string{"-delay", "soon"}, wantErr: "invalid value"},
		{args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q) = %v", tt.args, err)
			}
			if cfg.listen != tt.wantListen || cfg.name != tt.wantName {
				t.Errorf("parseFlags(%q): listen %q name %q, want %q %q", tt.args, cfg.listen, cfg.name, tt.wantListen, tt.wantName)
			}
		})
	}
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, stdout := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-port", "0", "-fail-every", "2"}, stdout, io.Discard)
		stdout.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	var name, addr string
	if _, err := fmt.Sscanf(line, "backend %s listening on %s\n", &name, &addr); err != nil || !strings.HasPrefix(name, "backend-") {
		t.Fatalf("listening line %q: want \"backend backend-<port> listening on <addr>\"", line)
	}
	if !strings.HasSuffix(addr, strings.TrimPrefix(name, "backend-")) {
		t.Errorf("listening line %q: default name does not carry the port", line)
	}

	for i, want := range []int{200, 503} {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("X-Backend") != name {
			t.Errorf("request %d: status %d X-Backend %q, want %d %q", i+1, resp.StatusCode, resp.Header.Get("X-Backend"), want, name)
		}
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("run after cancel = %d, want 0", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of cancel")
	}
}
