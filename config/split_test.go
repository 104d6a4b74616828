package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestSplitGraphs loads the graphs with splits and checks each gather's
// split and each node's output type.
func TestSplitGraphs(t *testing.T) {
	tests := []struct {
		path    string
		over    map[string]string // gather → split
		outputs map[string]string // node → output type
	}{
		{
			path:    "../testdata/graphs/split",
			over:    map[string]string{"gather.sum": "split.numbers"},
			outputs: map[string]string{"split.numbers": "Number", "process.fib": "Number", "gather.sum": "Total"},
		},
		{
			path: "../testdata/graphs/split_nested",
			over: map[string]string{"gather.page_texts": "split.pages", "gather.summaries": "split.docs"},
			outputs: map[string]string{
				"split.docs": "Document", "split.pages": "Page", "process.read": "PageText",
				"gather.page_texts": "Summary", "gather.summaries": "Digest",
			},
		},
		{
			path:    "../testdata/graphs/split_poll",
			over:    map[string]string{"gather.report": "split.tasks"},
			outputs: map[string]string{"split.tasks": "Task", "poll.wait": "Done", "gather.report": "Report"},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			g, warnings := load(t, tt.path, config.Options{})
			if len(warnings) > 0 {
				t.Errorf("unexpected warnings: %q", warnings)
			}
			for _, n := range g.Nodes {
				want, isGather := tt.over[n.Addr()]
				switch {
				case isGather && (n.Over == nil || n.Over.Addr() != want || n.Over != g.Node(want)):
					t.Errorf("%s: Over = %v, want %s", n.Addr(), n.Over, want)
				case !isGather && n.Over != nil:
					t.Errorf("%s: Over = %s, want none", n.Addr(), n.Over.Addr())
				}
			}
			for addr, want := range tt.outputs {
				if got := g.Node(addr).Output(); got != want {
					t.Errorf("%s: output %q, want %q", addr, got, want)
				}
			}
		})
	}
}

// nestedSplits returns a graph of depth splits nested in one another, each
// closed by its gather in order, innermost first; swap exchanges the over
// of the gathers of levels 1 and 2 (1 is the outermost), which closes an
// outer split before an inner one.
func nestedSplits(depth int, swap bool) string {
	var b strings.Builder
	b.WriteString("graph \"deep\" {\n  handlers = \"example.com/deep/behaviour\"\n}\nstart \"in\" {}\n")
	prev := "start.in"
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "split \"s%d\" {\n  from = %s\n  queue = \"s%d\"\n  message = \"T\"\n  handler = \"S%d\"\n}\n", i, prev, i, i)
		prev = fmt.Sprintf("split.s%d", i)
	}
	for i := depth; i >= 1; i-- {
		over := i
		if swap && i <= 2 {
			over = 3 - i
		}
		fmt.Fprintf(&b, "gather \"g%d\" {\n  from = %s\n  over = split.s%d\n  queue = \"g%d\"\n  message = \"T\"\n  handler = \"G%d\"\n}\n", i, prev, over, i, i)
		prev = fmt.Sprintf("gather.g%d", i)
	}
	fmt.Fprintf(&b, "terminate \"out\" {\n  from = %s\n  queue = \"out\"\n  message = \"T\"\n}\n", prev)
	return b.String()
}

// TestNestedSplitsAnyDepth checks that splits nest to any depth, and that
// closing them out of order is reported at the gather that does.
func TestNestedSplitsAnyDepth(t *testing.T) {
	g := loadSource(t, nestedSplits(40, false))
	for i := 1; i <= 40; i++ {
		gather := g.Node(fmt.Sprintf("gather.g%d", i))
		if gather == nil || gather.Over == nil || gather.Over.Name != fmt.Sprintf("s%d", i) {
			t.Fatalf("gather.g%d does not close split.s%d: %v", i, i, gather)
		}
	}

	path := filepath.Join(t.TempDir(), "graph.dge.hcl")
	if err := os.WriteFile(path, []byte(nestedSplits(40, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	l := config.NewLoader()
	g, diags := l.Load(path, config.Options{})
	if g != nil {
		t.Fatal("a graph that closes split.s1 inside split.s2 loaded")
	}
	var summaries []string
	for _, d := range diags {
		summaries = append(summaries, d.Summary)
	}
	if len(diags) != 1 || diags[0].Summary != "Gather does not close the innermost split" {
		t.Fatalf("diagnostics %q, want one \"Gather does not close the innermost split\":\n%s", summaries, renderDiags(l, diags))
	}
	if !strings.Contains(diags[0].Detail, "gather.g2 closes split.s1, but the innermost open split on its path is split.s2") {
		t.Errorf("detail %q does not name the gather and both splits", diags[0].Detail)
	}
}
