package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/dgehq/dge/plan"
	"github.com/google/go-cmp/cmp"
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

// TestVersionJSON checks that version -json carries what the text form
// prints and the format_version of every JSON output, and that it is
// nothing but one JSON document.
func TestVersionJSON(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "version", "-json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var got versionJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not the version JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document:\n%s", stdout)
	}
	for _, tt := range []struct{ field, got, want string }{
		{"version", got.Version, version},
		{"go_version", got.GoVersion, runtime.Version()},
		{"platform", got.Platform, runtime.GOOS + "/" + runtime.GOARCH},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.field, tt.got, tt.want)
		}
	}
	want := map[string]string{"plan": plan.FormatVersion, "validate": "1.0", "status": "1", "graph": "1", "ui": "1.0"}
	if diff := cmp.Diff(want, got.FormatVersions); diff != "" {
		t.Errorf("format_versions (-want +got):\n%s", diff)
	}
	_, text, _ := cliRun(t, "", "version")
	if first := "dge " + got.Version + "\n"; !strings.HasPrefix(text, first) {
		t.Errorf("text version %q does not start with %q from the JSON", text, first)
	}
	if last := got.GoVersion + " " + got.Platform + "\n"; !strings.HasSuffix(text, last) {
		t.Errorf("text version %q does not end with %q from the JSON", text, last)
	}
}
