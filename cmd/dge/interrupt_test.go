package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowGraph has a local that takes many minutes to evaluate (a billion
// small steps, within the size limits), on line 3.
const slowGraph = `locals {
  l    = split("", format("%30000s", ""))
  slow = [for a in local.l : [for b in local.l : b if false]]
}
`

// TestValidateSignal runs the real dge binary on a graph that takes many
// minutes to evaluate, sends it SIGINT or SIGTERM while it loads, and
// checks that it stops at once with an "Interrupted" error and exit status
// 1, instead of ignoring the signal until the evaluation ends.
//
// The signal is sent once dge has read its -var-file, a FIFO the test
// writes: by then dge has set up its signal handling (a signal before that
// would kill it, which the test would report) and evaluation comes next.
func TestValidateSignal(t *testing.T) {
	dir := t.TempDir()
	dge := filepath.Join(dir, "dge")
	if out, err := exec.Command("go", "build", "-o", dge, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	graph := filepath.Join(dir, "slow.dge.hcl")
	if err := os.WriteFile(graph, []byte(slowGraph), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "vars.hcl")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(dge, "validate", "-no-color", "-var-file", fifo, graph)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			opened := make(chan error, 1)
			go func() {
				// Blocks until dge opens the FIFO to read it.
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err == nil {
					err = f.Close()
				}
				opened <- err
			}()
			var err error
			select {
			case err = <-opened:
			case err = <-exited:
				t.Fatalf("dge exited before reading its -var-file: %v\nstderr:\n%s", err, stderr.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The evaluation would take many minutes; a minute is only a
			// bound for a dge that ignores the signal.
			select {
			case err = <-exited:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("dge did not stop within a minute of %s", sig)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("dge ended with %v, want exit status 1", err)
			}
			if strings.Contains(stdout.String(), "Success") {
				t.Errorf("stdout = %q, want no success", stdout.String())
			}
			want := map[syscall.Signal]string{syscall.SIGINT: "interrupt signal received", syscall.SIGTERM: "terminated signal received"}[sig]
			if !strings.Contains(stderr.String(), "Error: Interrupted") || !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr does not say the load was interrupted by %s:\n%s", want, stderr.String())
			}
		})
	}
}
