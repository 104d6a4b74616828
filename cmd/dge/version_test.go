package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if lines[0] != "dge "+version {
		t.Errorf("first line %q, want %q", lines[0], "dge "+version)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, runtime.Version()+" ") {
		t.Errorf("last line %q, want the Go version %s", last, runtime.Version())
	}
	if code, _, stderr := cliRun(t, "", "version", "extra"); code != 1 || !strings.Contains(stderr, "takes no arguments") {
		t.Errorf("version extra: exit %d, stderr %q; want 1", code, stderr)
	}
}
