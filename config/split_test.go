package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// loadSource writes src as a graph file in a temporary folder and loads it.
func loadSource(t *testing.T, src string) *config.Graph {
	t.Helper()
	path := filepath.Join(t.TempDir(), "graph.dge.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, _ := load(t, path, config.Options{})
	return g
}

// TestGatherDefaults checks what a gather that sets only what it must gets:
// the default timeout, no zero function, and Over pointing at the split
// node itself, with the ranges of over set and of zero empty.
func TestGatherDefaults(t *testing.T) {
	g := loadSource(t, `
graph "g" {
  handlers = "example.com/g/behaviour"
}
start "in" {}
split "pages" {
  from    = start.in
  queue   = "pages"
  message = "Document"
  handler = "Pages"
}
gather "summary" {
  from    = split.pages
  over    = split.pages
  queue   = "summary"
  message = "Page"
  handler = "Summarise"
}
terminate "out" {
  from    = gather.summary
  queue   = "out"
  message = "Summary"
}
`)
	gather, split := g.Node("gather.summary"), g.Node("split.pages")
	if gather == nil || split == nil {
		t.Fatalf("nodes missing from %v", g.Nodes)
	}
	if gather.Timeout != config.DefaultGatherTimeout {
		t.Errorf("Timeout = %v, want the default %v", gather.Timeout, config.DefaultGatherTimeout)
	}
	if gather.Over != split {
		t.Errorf("Over = %v, want the split node %p", gather.Over, split)
	}
	if gather.Zero != "" || gather.ZeroRange != (hcl.Range{}) {
		t.Errorf("Zero = %q (range %v), want none", gather.Zero, gather.ZeroRange)
	}
	if gather.OverRange.Start.Line != 14 {
		t.Errorf("OverRange starts on line %d, want 14", gather.OverRange.Start.Line)
	}
	if split.Over != nil || split.Timeout != 0 {
		t.Errorf("split has Over %v, Timeout %v; want neither", split.Over, split.Timeout)
	}
	if split.Output() != "Page" {
		t.Errorf("split's output = %q, want its successor's message Page", split.Output())
	}
}
