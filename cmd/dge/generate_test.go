package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/gen"
	"github.com/google/go-cmp/cmp"
)

// genRun runs the real CLI in-process and returns its exit code and output.
func genRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, environ: os.Environ()}
	code = e.dispatch(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestGenerateWritesAndIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := genRun(t, "generate", "-o", dir, "../../examples/arith")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	for _, name := range []string{gen.DotFile, gen.MermaidFile, gen.MainFile} {
		target := filepath.Join(dir, name)
		if !strings.Contains(stdout, "Wrote "+target+"\n") {
			t.Errorf("stdout does not list %s:\n%s", target, stdout)
		}
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("../../examples/arith/cmd/arith", name))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s differs from the committed example (-want +got):\n%s", name, diff)
		}
	}
	if !strings.Contains(stdout, "go build -o arith "+dir) {
		t.Errorf("stdout does not say how to build:\n%s", stdout)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("output folder holds %d entries, want exactly the 3 generated files (no temporary files left)", len(entries))
	}

	code, stdout, stderr = genRun(t, "generate", "-o", dir, "../../examples/arith")
	if code != 0 {
		t.Fatalf("second run: exit %d\nstderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, "Wrote") || strings.Count(stdout, "Unchanged ") != 3 {
		t.Errorf("second run should leave all three files unchanged:\n%s", stdout)
	}
}

// TestGenerateVariables generates with -var vhost=staging, then as the
// //go:generate line does, with no variable: both write the same main.go,
// on the graph's default vhost (the program takes its vhost at run time),
// and the first warns how to run it on staging.
func TestGenerateVariables(t *testing.T) {
	withVar, plain := t.TempDir(), t.TempDir()
	code, _, stderr := genRun(t, "generate", "-var", "vhost=staging", "-o", withVar, "../../examples/arith")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	if want := "DGE_VHOST=staging"; !strings.Contains(stderr, want) {
		t.Errorf("generate -var vhost=staging does not say %s:\n%s", want, stderr)
	}
	if code, _, stderr := genRun(t, "generate", "-o", plain, "../../examples/arith"); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	a, err := os.ReadFile(filepath.Join(withVar, gen.MainFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(plain, gen.MainFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || !strings.Contains(string(a), `Vhost:         "/",`) {
		t.Errorf("generate -var vhost=staging and generate differ, or the vhost is not the default \"/\":\n%s", a)
	}
}

func TestGenerateRefusesHandWrittenFiles(t *testing.T) {
	for _, name := range []string{gen.MainFile, gen.DotFile, gen.MermaidFile} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			mine := []byte("package main\n\n// written by hand\n")
			if err := os.WriteFile(filepath.Join(dir, name), mine, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := genRun(t, "generate", "-o", dir, "../../examples/arith")
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "refusing to overwrite "+filepath.Join(dir, name)) || !strings.Contains(stderr, "-o DIR") {
				t.Errorf("stderr does not explain the refusal:\n%s", stderr)
			}
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, mine) {
				t.Errorf("the hand-written file changed: %q, %v", got, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("a refused generation wrote %d other files", len(entries)-1)
			}
		})
	}
}

func TestGenerateReportsHandlerMismatchAtHCLLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := genRun(t, "generate", "-no-color", "-o", dir, "../../internal/gen/testdata/mismatch")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Error: Wrong handler signature",
		"mismatch/graph.dge.hcl:29:13",
		`handler = "TakesFloat"`,
		"func(context.Context, behaviour.Integer) (behaviour.Integer, error)",
		"Error: Handler not found",
		"Did you mean Double?",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("output folder created despite errors (stat: %v)", err)
	}
}

func TestGenerateDefaultFolder(t *testing.T) {
	// The clash test graph's expected output is committed at its default
	// folder; when it is in sync, generating there changes nothing.
	const graphDir = "../../internal/gen/testdata/clash"
	g, diags := config.NewLoader().Load(graphDir, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files, diags := gen.Render(g)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	outDir := filepath.Join(graphDir, "cmd", "clash")
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(outDir, name)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s is out of sync with the generator (run go test ./internal/gen -update): %v", filepath.Join(outDir, name), err)
		}
	}
	for _, path := range []string{graphDir, graphDir + "/graph.dge.hcl"} {
		code, stdout, stderr := genRun(t, "generate", path)
		if code != 0 {
			t.Fatalf("generate %s: exit %d\n%s", path, code, stderr)
		}
		for name := range files {
			if want := "Unchanged " + filepath.Join(outDir, name) + "\n"; !strings.Contains(stdout, want) {
				t.Errorf("generate %s: stdout lacks %q:\n%s", path, want, stdout)
			}
		}
	}
}

func TestGenerateBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"two paths", []string{"generate", "a", "b"}, "expected at most one PATH"},
		{"missing path", []string{"generate", "-o", t.TempDir(), "testdata/no-such-graph"}, "no-such-graph"},
		{"bad flag", []string{"generate", "-frobnicate"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := genRun(t, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, tc.want)
			}
		})
	}
	if code, _, stderr := genRun(t, "generate", "-h"); code != 0 || !strings.Contains(stderr, "Usage: dge generate") {
		t.Errorf("-h: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestSafeFolderName(t *testing.T) {
	for name, want := range map[string]bool{"arith": true, "a.b": true, "": false, ".": false, "..": false, "a/b": false, `a\b`: false} {
		if got := safeFolderName(name); got != want {
			t.Errorf("safeFolderName(%q) = %v, want %v", name, got, want)
		}
	}
}
