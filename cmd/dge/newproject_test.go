package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestNewProject walks README's "Start a new project" as a new user's
// machine would: dge built from this checkout, a project started with dge
// init in a folder outside the repository, go mod tidy through the module
// proxy (the go.mod's replace takes dge itself from this checkout), its
// test, dge generate and go build, the graph run in memory with local, then
// applied to RabbitMQ in a private vhost and run there: every node, one
// run published and its result consumed.
func TestNewProject(t *testing.T) {
	vh := brokertest.NewVhost(t) // first, so a missing broker fails at once
	bin := t.TempDir()
	dge := filepath.Join(bin, "dge")
	if out, err := exec.Command("go", "build", "-o", dge, ".").CombinedOutput(); err != nil {
		t.Fatalf("build dge: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	environ := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), // go generate runs dge
		"GOFLAGS=-mod=mod",
		"DGE_MANAGEMENT_URL="+vh.ManagementURL,
		"DGE_AMQP_URL="+vh.AMQPURL,
	)
	run := func(stdin string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env, cmd.Stdin = dir, environ, strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	vhostVar := "vhost=" + vh.Name

	out := run("", dge, "init", "-module", "example.com/hello")
	if !strings.Contains(out, "replace github.com/dgehq/dge => ") {
		t.Errorf("dge init does not say it replaces dge with this checkout:\n%s", out)
	}
	run("", "go", "mod", "tidy")
	run("", "go", "test", "./...")
	if out := run("", "go", "generate", "./..."); strings.Count(out, "Unchanged ") != 3 {
		t.Errorf("go generate (dge generate) should find the program dge init wrote up to date:\n%s", out)
	}
	if out := run(`{"name":"Ada"}`+"\n", "go", "run", "./cmd/hello", "local"); out != `{"text":"Hello, Ada!"}`+"\n" {
		t.Errorf("hello local printed %q, want the greeting", out)
	}

	// On RabbitMQ, in the test's vhost.
	run("", dge, "generate", "-var", vhostVar)
	run("", "go", "build", "-o", "hello", "./cmd/hello")
	run("", dge, "apply", "-auto-approve", "-var", vhostVar)
	if code := exitCode(t, dir, environ, dge, "plan", "-detailed-exitcode", "-var", vhostVar); code != 0 {
		t.Errorf("dge plan after apply: exit %d, want 0 (no changes)", code)
	}
	nodes := exec.Command("./hello", "all")
	nodes.Dir, nodes.Env = dir, environ
	var logs bytes.Buffer
	nodes.Stdout, nodes.Stderr = &logs, &logs
	if err := nodes.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = nodes.Process.Signal(syscall.SIGTERM)
		if err := nodes.Wait(); err != nil {
			t.Errorf("hello all after SIGTERM: %v\n%s", err, logs.String())
		}
	}
	t.Cleanup(stop)
	run("", "./hello", "publish", "start", `{"name":"Ada"}`)
	if out := run("", "./hello", "consume", "result", "-n", "1", "-timeout", "1m"); out != `{"text":"Hello, Ada!"}`+"\n" {
		t.Errorf("hello consume printed %q, want the greeting", out)
	}
	stop()
}

// exitCode runs a command in dir and returns its exit code.
func exitCode(t *testing.T, dir string, environ []string, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, environ
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return 0
}
