package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateLongLine checks that a diagnostic about a 10 MB line prints
// an excerpt around its subject, not the line: it printed 10 MB.
func TestValidateLongLine(t *testing.T) {
	long := strings.Repeat("x", 10<<20)
	for _, tc := range []struct {
		name, src, where, summary string
	}{
		{"value", "locals {\n  a = \"" + long + "\"\n}\n", "long.dge.hcl:2:7, in locals:", "Value too large"},
		{"error at the end", "locals {\n  a = \"" + long + "\" + ]\n}\n", "long.dge.hcl:2:10485772, in locals:", "Invalid expression"},
		{"many lines", "locals {\n  a = [\n" + strings.Repeat("    \""+strings.Repeat("y", 100)+"\",\n", 1000) + "  ] + 1\n}\n", "long.dge.hcl:2:7, in locals:", "Invalid operand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "long.dge.hcl")
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := cliRun(t, "", "validate", "-no-color", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if len(stderr) > 10<<10 {
				t.Fatalf("the diagnostics took %d bytes, want under 10 KiB; they begin:\n%.2000s", len(stderr), stderr)
			}
			if !strings.Contains(stderr, "Error: "+tc.summary) || !strings.Contains(stderr, tc.where) || !strings.Contains(stderr, "…") {
				t.Errorf("want an excerpt of the line for %q at %s, with …; got:\n%s", tc.summary, tc.where, stderr)
			}
		})
	}
}
