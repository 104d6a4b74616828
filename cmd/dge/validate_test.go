package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const arithDir = "../../examples/arith"

// badGraph references a node that does not exist (line 8, column 13) and so
// leaves its start feeding nothing (line 5, column 7).
const badGraph = `graph "bad" {
  handlers = "example.com/h"
}

start "s" {}

terminate "t" {
  from    = process.missing
  queue   = "q"
  message = "M"
}
`

// varGraph needs the variable "vhost", which has no default.
const varGraph = `graph "v" {
  handlers = "example.com/h"
}

variable "vhost" {}

broker {
  vhost = var.vhost
}

start "s" {}

terminate "t" {
  from    = start.s
  queue   = "q"
  message = "M"
}
`

func TestValidateArith(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "validate", arithDir)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	want := "Success! The graph \"arith\" is valid.\n" +
		"7 nodes, 6 edge queues: 19 queues and 3 exchanges on the broker.\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
}

func TestValidateFlagsAfterPath(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "validate", arithDir, "-json")
	if code != 0 || !strings.Contains(stdout, `"valid": true`) {
		t.Errorf("validate PATH -json: exit %d, stdout %q, stderr %q; want 0 and JSON", code, stdout, stderr)
	}
}

func TestValidateErrors(t *testing.T) {
	dir := writeTemp(t, map[string]string{"g.dge.hcl": badGraph})
	code, stdout, stderr := cliRun(t, "", "validate", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	file := filepath.Join(dir, "g.dge.hcl")
	for _, want := range []string{
		"Error: Reference to undeclared node",
		"on " + file + ":8:13, in terminate \"t\":",
		"   8:   from    = process.missing",
		"on " + file + ":5:7, in start \"s\":",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "\x1b[") {
		t.Errorf("stderr is not a terminal but holds colour codes:\n%q", stderr)
	}
}

func TestValidateJSON(t *testing.T) {
	dir := writeTemp(t, map[string]string{"g.dge.hcl": badGraph})
	code, stdout, stderr := cliRun(t, "", "validate", "-json", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing (diagnostics go in the JSON)", stderr)
	}
	var out validateOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if out.Valid || out.ErrorCount != len(out.Diagnostics) || out.ErrorCount < 1 || out.WarningCount != 0 || out.FormatVersion != "1.0" {
		t.Errorf("got valid=%v errors=%d warnings=%d diagnostics=%d format=%q; want invalid with every diagnostic an error",
			out.Valid, out.ErrorCount, out.WarningCount, len(out.Diagnostics), out.FormatVersion)
	}
	var found bool
	for _, d := range out.Diagnostics {
		if d.Summary == "Reference to undeclared node" {
			found = true
			if d.Severity != "error" || d.Range == nil || d.Range.Filename != filepath.Join(dir, "g.dge.hcl") ||
				d.Range.Start.Line != 8 || d.Range.Start.Column != 13 || d.Range.End.Line != 8 ||
				d.Range.Start.Byte <= 0 || d.Range.End.Byte <= d.Range.Start.Byte {
				t.Errorf("diagnostic %+v, range %+v; want an error at g.dge.hcl 8:13", d, d.Range)
			}
		}
	}
	if !found {
		t.Errorf("no \"Reference to undeclared node\" diagnostic in %s", stdout)
	}

	// A valid graph: the same shape, with no diagnostics, as an empty list.
	code, stdout, _ = cliRun(t, "", "validate", "-json", arithDir)
	want := "{\n  \"format_version\": \"1.0\",\n  \"valid\": true,\n  \"error_count\": 0,\n  \"warning_count\": 0,\n  \"diagnostics\": []\n}\n"
	if code != 0 || stdout != want {
		t.Errorf("valid graph: exit %d, stdout %q; want 0, %q", code, stdout, want)
	}
}

func TestValidateVariables(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"g.dge.hcl":   varGraph,
		"vars.dgevar": "vhost = \"from-file\"\n",
	})
	if code, _, stderr := cliRun(t, "", "validate", dir); code != 1 || !strings.Contains(stderr, "vhost") {
		t.Errorf("no value for vhost: exit %d, stderr %q; want 1 and a diagnostic naming vhost", code, stderr)
	}
	for _, args := range [][]string{
		{"-var", "vhost=/test"},
		{"-var-file", filepath.Join(dir, "vars.dgevar")},
		{"-var-file", filepath.Join(dir, "vars.dgevar"), "-var", "vhost=x"},
	} {
		args := append(append([]string{"validate"}, args...), dir)
		if code, stdout, stderr := cliRun(t, "", args...); code != 0 || !strings.HasPrefix(stdout, "Success!") {
			t.Errorf("dge %s: exit %d, stdout %q, stderr %q; want success", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	code, _, stderr := cliRun(t, "", "validate", "-var", "vhost", dir)
	if code != 1 || !strings.Contains(stderr, `"vhost" is not name=value`) {
		t.Errorf("-var without =: exit %d, stderr %q; want 1 and a message saying name=value", code, stderr)
	}
}

func TestValidateDefaultsToCurrentFolder(t *testing.T) {
	dir := writeTemp(t, map[string]string{"g.dge.hcl": badGraph})
	t.Chdir(dir)
	code, _, stderr := cliRun(t, "", "validate")
	if code != 1 || !strings.Contains(stderr, "on g.dge.hcl:8:13") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and the diagnostic at g.dge.hcl:8:13", code, stderr)
	}
}

func TestValidateMissingPath(t *testing.T) {
	code, _, stderr := cliRun(t, "", "validate", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(stderr, "Cannot read graph") {
		t.Errorf("exit %d, stderr %q; want 1 and a diagnostic", code, stderr)
	}
}

func TestCommandUsage(t *testing.T) {
	for _, cmd := range []string{"validate", "fmt", "graph", "version"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, stderr := cliRun(t, "", cmd, "-h")
			if code != 0 || !strings.Contains(stderr, "Usage: dge "+cmd) {
				t.Errorf("-h: exit %d, stderr %q; want 0 and usage", code, stderr)
			}
			code, _, stderr = cliRun(t, "", cmd, "-no-such-flag")
			if code != 1 || !strings.Contains(stderr, "flag provided but not defined: -no-such-flag") {
				t.Errorf("bad flag: exit %d, stderr %q; want 1 and the flag named", code, stderr)
			}
			code, _, stderr = cliRun(t, "", cmd, "a", "b")
			if code != 1 || stderr == "" {
				t.Errorf("two paths: exit %d, stderr %q; want 1 and a message", code, stderr)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantPos []string
		wantX   bool
	}{
		{nil, nil, false},
		{[]string{"p"}, []string{"p"}, false},
		{[]string{"-x", "p"}, []string{"p"}, true},
		{[]string{"p", "-x"}, []string{"p"}, true},
		{[]string{"p", "q", "-x"}, []string{"p", "q"}, true},
		{[]string{"--", "-x"}, []string{"-x"}, false},
		{[]string{"p", "--", "-x", "q"}, []string{"p", "-x", "q"}, false},
	} {
		e := &env{stderr: new(strings.Builder)}
		fs := e.newFlagSet("t", "t", "")
		x := fs.Bool("x", false, "")
		pos, code, done := parseArgs(fs, tt.args)
		if done || code != 0 || strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") || *x != tt.wantX {
			t.Errorf("parseArgs(%q) = %q, %d, %v, x=%v; want %q, x=%v", tt.args, pos, code, done, *x, tt.wantPos, tt.wantX)
		}
	}
}

func TestTerminalSettings(t *testing.T) {
	e := &env{environ: []string{"COLUMNS=120"}}
	if w, c := e.terminal(new(strings.Builder)); w != 0 || c {
		t.Errorf("non-file writer: width %d colour %v; want 0, false", w, c)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if w, c := e.terminal(f); w != 0 || c {
		t.Errorf("regular file: width %d colour %v; want 0, false", w, c)
	}
	if e.getenv("COLUMNS") != "120" || e.getenv("NOPE") != "" {
		t.Errorf("getenv reads the command's environment wrongly")
	}
}

// TestTerminalColour checks the colour decision for a terminal, and that
// /dev/null, a character device but no terminal, gets no colour.
func TestTerminalColour(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if w, c := (&env{}).terminal(devNull); w != 0 || c {
		t.Errorf("/dev/null: width %d colour %v; want 0, false", w, c)
	}
	for _, tt := range []struct {
		name      string
		environ   []string
		noColor   bool
		wantWidth uint
		wantColor bool
	}{
		{"default", nil, false, 78, true},
		{"COLUMNS", []string{"COLUMNS=120"}, false, 120, true},
		{"NO_COLOR", []string{"NO_COLOR=1"}, false, 78, false},
		{"-no-color", nil, true, 78, false},
	} {
		e := &env{environ: tt.environ, noColor: tt.noColor}
		if w, c := e.terminalStyle(); w != tt.wantWidth || c != tt.wantColor {
			t.Errorf("%s: width %d colour %v; want %d, %v", tt.name, w, c, tt.wantWidth, tt.wantColor)
		}
	}
}
