package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unformattedCopy copies the unformatted fixture into a new folder as
// g.dge.hcl and returns the folder and the fixture's content.
func unformattedCopy(t *testing.T) (dir, src string) {
	t.Helper()
	src = readFile(t, filepath.Join(cliGoldenDir, "fmt", "unformatted.dge.hcl.in"))
	return writeTemp(t, map[string]string{"g.dge.hcl": src}), src
}

func TestFmtCheck(t *testing.T) {
	dir, src := unformattedCopy(t)
	file := filepath.Join(dir, "g.dge.hcl")
	code, stdout, stderr := cliRun(t, "", "fmt", "-check", dir)
	if code != 1 || stdout != file+"\n" || stderr != "" {
		t.Errorf("fmt -check: exit %d, stdout %q, stderr %q; want 1 and the file listed", code, stdout, stderr)
	}
	if got := readFile(t, file); got != src {
		t.Errorf("fmt -check changed the file")
	}
}

func TestFmtRewrite(t *testing.T) {
	dir, _ := unformattedCopy(t)
	file := filepath.Join(dir, "g.dge.hcl")
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cliRun(t, "", "fmt", dir)
	if code != 0 || stdout != file+"\n" || stderr != "" {
		t.Errorf("fmt: exit %d, stdout %q, stderr %q; want 0 and the file listed", code, stdout, stderr)
	}
	formatted := readFile(t, file)
	checkGolden(t, "fmt/formatted.dge.hcl.golden", []byte(formatted))
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file mode after fmt = %v, %v; want 0600 kept", info.Mode(), err)
	}

	// Formatting is idempotent: a second run changes and lists nothing.
	code, stdout, stderr = cliRun(t, "", "fmt", "-check", dir)
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("second fmt -check: exit %d, stdout %q, stderr %q; want 0 and nothing", code, stdout, stderr)
	}
	// The formatted graph still validates.
	if code, _, stderr := cliRun(t, "", "validate", dir); code != 0 {
		t.Errorf("formatted graph does not validate:\n%s", stderr)
	}
}

func TestFmtDiff(t *testing.T) {
	dir, src := unformattedCopy(t)
	code, stdout, _ := cliRun(t, "", "fmt", "-check", "-diff", "-list=false", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkGolden(t, "fmt/unformatted.diff.golden", []byte(strings.ReplaceAll(stdout, dir+string(filepath.Separator), "")))
	if readFile(t, filepath.Join(dir, "g.dge.hcl")) != src {
		t.Errorf("fmt -check -diff changed the file")
	}
}

func TestFmtSyntaxError(t *testing.T) {
	bad := "graph \"x\" {\n  handlers = \n"
	dir := writeTemp(t, map[string]string{"a.dge.hcl": bad, "b.dge.hcl": "start   \"s\" {}\n"})
	code, stdout, stderr := cliRun(t, "", "fmt", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr, filepath.Join(dir, "a.dge.hcl")+":2:") {
		t.Errorf("stderr lacks the error's location:\n%s", stderr)
	}
	if got := readFile(t, filepath.Join(dir, "a.dge.hcl")); got != bad {
		t.Errorf("file with a syntax error was changed to %q", got)
	}
	// The other file is still formatted.
	if got := readFile(t, filepath.Join(dir, "b.dge.hcl")); got != "start \"s\" {}\n" || stdout != filepath.Join(dir, "b.dge.hcl")+"\n" {
		t.Errorf("good file: %q, stdout %q; want it formatted and listed", got, stdout)
	}
}

func TestFmtRecursiveAndFile(t *testing.T) {
	messy := "start   \"s\" {}\n"
	dir := writeTemp(t, map[string]string{
		"a.dge.hcl":            messy,
		"sub/b.dge.hcl":        messy,
		".hidden/c.dge.hcl":    messy,
		"notes.hcl":            messy,
		"sub/deeper/d.dge.hcl": messy,
	})
	code, stdout, _ := cliRun(t, "", "fmt", "-check", dir)
	if code != 1 || stdout != filepath.Join(dir, "a.dge.hcl")+"\n" {
		t.Errorf("non-recursive: exit %d, stdout %q; want only a.dge.hcl", code, stdout)
	}
	code, stdout, _ = cliRun(t, "", "fmt", "-check", "-recursive", dir)
	want := strings.Join([]string{
		filepath.Join(dir, "a.dge.hcl"),
		filepath.Join(dir, "sub", "b.dge.hcl"),
		filepath.Join(dir, "sub", "deeper", "d.dge.hcl"),
	}, "\n") + "\n"
	if code != 1 || stdout != want {
		t.Errorf("recursive: exit %d, stdout %q; want %q", code, stdout, want)
	}
	// A file named explicitly is formatted whatever its name.
	code, stdout, _ = cliRun(t, "", "fmt", filepath.Join(dir, "notes.hcl"))
	if code != 0 || readFile(t, filepath.Join(dir, "notes.hcl")) != "start \"s\" {}\n" {
		t.Errorf("explicit file: exit %d, stdout %q; want it formatted", code, stdout)
	}
}

func TestFmtStdin(t *testing.T) {
	code, stdout, stderr := cliRun(t, "start   \"s\" {}\n", "fmt", "-")
	if code != 0 || stdout != "start \"s\" {}\n" || stderr != "" {
		t.Errorf("fmt -: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := cliRun(t, "start   \"s\" {}\n", "fmt", "-check", "-"); code != 1 || stdout != "" {
		t.Errorf("fmt -check - on unformatted input: exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	if code, _, _ := cliRun(t, "start \"s\" {}\n", "fmt", "-check", "-"); code != 0 {
		t.Errorf("fmt -check - on formatted input: exit %d, want 0", code)
	}
	if code, _, stderr := cliRun(t, "graph {", "fmt", "-"); code != 1 || !strings.Contains(stderr, "<stdin>:1:") {
		t.Errorf("fmt - on bad input: exit %d, stderr %q; want 1 and a located diagnostic", code, stderr)
	}
}

func TestFmtMissingPath(t *testing.T) {
	code, _, stderr := cliRun(t, "", "fmt", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(stderr, "no such file") {
		t.Errorf("exit %d, stderr %q; want 1 and the error", code, stderr)
	}
}

// TestFmtNestingTooDeep: dge fmt parses as validate does, so it refuses a
// file nested too deep before its parser recurses (100,000 brackets
// overflowed the stack).
func TestFmtNestingTooDeep(t *testing.T) {
	deep := "locals {\n  x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n}\n"
	dir := writeTemp(t, map[string]string{"a.dge.hcl": deep})
	code, _, stderr := cliRun(t, "", "fmt", dir)
	if code != 1 || !strings.Contains(stderr, "Nesting too deep") || !strings.Contains(stderr, filepath.Join(dir, "a.dge.hcl")+":2:") {
		t.Errorf("exit %d, stderr %.500s; want 1 and Nesting too deep at line 2", code, stderr)
	}
	if len(stderr) > 10<<10 {
		t.Errorf("the diagnostic is %d bytes; want a bounded excerpt", len(stderr))
	}
}
