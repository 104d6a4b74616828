package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
)

// TestMoved loads graphs with moved blocks and checks what Graph.Moved
// holds: the renames in source order, their names evaluated (a local
// serves as well as a literal), and the line of each from.
func TestMoved(t *testing.T) {
	const nodes = `graph "g" {
  handlers = "example.com/g/behaviour"
}
start "in" {}
process "work" {
  from    = start.in
  queue   = "jobs"
  message = "Job"
  handler = "Work"
}
terminate "out" {
  from    = process.work
  queue   = "results"
  message = "Result"
}
`
	type moved struct {
		From, To string
		FromLine int
	}
	tests := []struct {
		name  string
		extra string
		want  []moved
	}{
		{"none", "", nil},
		{"one", "moved {\n  from = \"work\"\n  to   = \"jobs\"\n}\n", []moved{{"work", "jobs", 17}}},
		{"two, from a local", "locals {\n  old = \"result\"\n}\nmoved {\n  from = \"work\"\n  to   = \"jobs\"\n}\nmoved {\n  from = local.old\n  to   = \"results\"\n}\n",
			[]moved{{"work", "jobs", 20}, {"result", "results", 24}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "graph.dge.hcl")
			if err := os.WriteFile(path, []byte(nodes+tt.extra), 0o644); err != nil {
				t.Fatal(err)
			}
			g, diags := config.NewLoader().Load(path, config.Options{})
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			var got []moved
			for _, m := range g.Moved {
				got = append(got, moved{m.From, m.To, m.FromRange.Start.Line})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Moved (-want +got):\n%s", diff)
			}
		})
	}
}
