package config_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// markerRE finds the expectations written into an error-corpus file: a
// trailing comment "# ERROR: <summary>" (or "# WARNING: <summary>") on the
// line the diagnostic's subject must start on.
var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*([^#]*[^#\s])`)

// expectation is one diagnostic a corpus file expects, or one it got.
type expectation struct {
	Severity string
	Line     int
	Summary  string
}

func (e expectation) String() string { return fmt.Sprintf("%d: %s: %s", e.Line, e.Severity, e.Summary) }

func readMarkers(t *testing.T, src []byte) []expectation {
	t.Helper()
	var want []expectation
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		for _, m := range markerRE.FindAllStringSubmatch(sc.Text(), -1) {
			want = append(want, expectation{Severity: m[1], Line: line, Summary: m[2]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

func sortExpectations(list []expectation) {
	sort.Slice(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			return list[i].Line < list[j].Line
		}
		if list[i].Severity != list[j].Severity {
			return list[i].Severity < list[j].Severity
		}
		return list[i].Summary < list[j].Summary
	})
}

// TestErrorCorpus loads each bad graph under testdata/errors and checks that
// it reports exactly the diagnostics its markers name, each on its line.
func TestErrorCorpus(t *testing.T) {
	paths, err := filepath.Glob("../testdata/errors/*.dge.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no files in ../testdata/errors")
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), config.FileSuffix), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := readMarkers(t, src)
			if len(want) == 0 {
				t.Fatal("the file has no # ERROR: or # WARNING: marker")
			}
			l := config.NewLoader()
			g, diags := l.Load(path, config.Options{Env: []string{"DGE_CORPUS=1"}})
			var got []expectation
			for _, d := range diags {
				sev := "ERROR"
				if d.Severity == hcl.DiagWarning {
					sev = "WARNING"
				}
				line := 0
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s", d)
				} else {
					if d.Subject.Filename != path {
						t.Errorf("diagnostic %q points into %s", d.Summary, d.Subject.Filename)
					}
					line = d.Subject.Start.Line
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no detail", d.Summary)
				}
				got = append(got, expectation{Severity: sev, Line: line, Summary: d.Summary})
			}
			sortExpectations(want)
			sortExpectations(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s\nall diagnostics:\n%s", diff, renderDiags(l, diags))
			}
			if diags.HasErrors() != (g == nil) {
				t.Errorf("graph returned = %v with errors = %v; want a graph exactly when there are no errors", g != nil, diags.HasErrors())
			}
		})
	}
}

func renderDiags(l *config.Loader, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, l.Files(), 100, false)
	_ = w.WriteDiagnostics(diags)
	return buf.String()
}
