package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/deploy"
)

// deployRun runs the real CLI in-process with environ and returns its exit
// code and output.
func deployRun(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, environ: environ}
	code = e.dispatch(context.Background(), args)
	return code, out.String(), errb.String()
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[en.Name()] = b
	}
	return files
}

// TestDeployWritesGoldenFiles: dge deploy on examples/arith writes exactly
// internal/deploy's golden files (the Dockerfile builds the program where
// dge generate writes it, relative to the repository's go.mod), and a
// second run changes nothing.
func TestDeployWritesGoldenFiles(t *testing.T) {
	for _, target := range deploy.Targets {
		t.Run(string(target), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := deployRun(t, os.Environ(), "deploy", "-target", string(target), "-o", dir, "../../examples/arith")
			if code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
			}
			golden := readDir(t, filepath.Join("../../internal/deploy/testdata/arith", string(target)))
			got := readDir(t, dir)
			if !slices.Equal(sortedKeys(got), sortedKeys(golden)) {
				t.Fatalf("wrote %v, want %v", sortedKeys(got), sortedKeys(golden))
			}
			for name, want := range golden {
				if !bytes.Equal(got[name], want) {
					t.Errorf("%s differs from internal/deploy/testdata/arith/%s/%s:\n%s", name, target, name, got[name])
				}
				if !strings.Contains(stdout, "Wrote "+filepath.Join(dir, name)+"\n") {
					t.Errorf("stdout does not list %s:\n%s", name, stdout)
				}
			}
			code, stdout, stderr = deployRun(t, os.Environ(), "deploy", "-target", string(target), "-o", dir, "../../examples/arith")
			if code != 0 || strings.Contains(stdout, "Wrote ") || stderr != "" {
				t.Fatalf("second run: exit %d, want 0 with every file unchanged\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

// TestDeployNoSecretInOutput: with a broker URL and password in the
// environment, neither the files nor dge's output hold them.
func TestDeployNoSecretInOutput(t *testing.T) {
	const password = "Top-s3cret-77"
	environ := append(os.Environ(),
		"DGE_AMQP_URL=amqp://deployer:"+password+"@broker.internal:5672/",
		"DGE_MANAGEMENT_URL=http://deployer:"+password+"@broker.internal:15672",
		"DGE_PASSWORD="+password,
	)
	for _, target := range deploy.Targets {
		dir := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := deployRun(t, environ, "deploy", "-target", string(target), "-o", dir, "../../testdata/graphs/deploy")
		if code != 0 {
			t.Fatalf("%s: exit %d\nstderr:\n%s", target, code, stderr)
		}
		if strings.Contains(stdout+stderr, password) {
			t.Errorf("%s: dge's output holds the password:\n%s%s", target, stdout, stderr)
		}
		for name, b := range readDir(t, dir) {
			if bytes.Contains(b, []byte(password)) || bytes.Contains(b, []byte("broker.internal")) {
				t.Errorf("%s: %s holds the broker's URL or password", target, name)
			}
		}
	}
}

// TestDeployRefusesForeignFile: a file dge deploy did not write stops it
// before it writes anything, and stays as it was.
func TestDeployRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	mine := []byte("FROM scratch\n# my own Dockerfile\n")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := deployRun(t, os.Environ(), "deploy", "-target", "kubernetes", "-o", dir, "../../examples/arith")
	if code != 1 || !strings.Contains(stderr, "refusing to overwrite "+filepath.Join(dir, "Dockerfile")) || !strings.Contains(stderr, "-o DIR") {
		t.Fatalf("exit %d, want 1 refusing to overwrite the Dockerfile\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := readDir(t, dir)
	if len(got) != 1 || !bytes.Equal(got["Dockerfile"], mine) {
		t.Fatalf("the folder changed: %v", sortedKeys(got))
	}
}

// TestDeployNotesStaleFile: a file an earlier dge deploy wrote that this
// output lacks (a node since removed) is named, not silently left.
func TestDeployNotesStaleFile(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, deploy.NodeFile("gone"))
	if err := os.WriteFile(stale, []byte(deploy.Header+"\nkind: Deployment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := deployRun(t, os.Environ(), "deploy", "-target", "kubernetes", "-o", dir, "../../examples/fib")
	if code != 0 || !strings.Contains(stderr, stale+" was written by an earlier dge deploy") {
		t.Fatalf("exit %d, want 0 with a note on %s\nstderr:\n%s", code, stale, stderr)
	}
}

func TestDeployUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"deploy", "-o", dir, "../../examples/arith"}, "-target is required"},
		{"bad target", []string{"deploy", "-target", "helm", "-o", dir, "../../examples/arith"}, `unknown -target "helm"`},
		{"no output", []string{"deploy", "-target", "compose", "../../examples/arith"}, "-o DIR is required"},
		{"bad namespace", []string{"deploy", "-target", "kubernetes", "-namespace", "Prod_1", "-o", dir, "../../examples/arith"}, "not a Kubernetes namespace name"},
		{"no module", []string{"deploy", "-target", "compose", "-o", dir, "-program-dir", t.TempDir(), "../../examples/arith"}, "no go.mod"},
		{"bad graph", []string{"deploy", "-target", "compose", "-o", dir, "testdata/no-such-graph"}, "no-such-graph"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := deployRun(t, os.Environ(), c.args...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 1 with %q\nstderr:\n%s", code, c.want, stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed dge deploy wrote %d files", len(entries))
	}
}

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
