package config_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// FuzzLoad feeds arbitrary sources to LoadSource: it must never panic, and
// must return a graph exactly when it reports no error, with every
// diagnostic in a form the text writer can print.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("../testdata/errors/*.dge.hcl")
	if err != nil {
		f.Fatal(err)
	}
	graphs, err := filepath.Glob("../testdata/graphs/*/*.dge.hcl")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range append(seeds, graphs...) {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	// Sources that would exhaust memory without the size limits.
	names := make([]string, 0, len(hostileSources))
	for name := range hostileSources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add([]byte(hostileSources[name]))
	}
	// Sources that would crash the parser without the nesting limit, a
	// thousand levels deep (the limit is 100), and chained locals.
	deep := deepSources(1000)
	names = names[:0]
	for name := range deep {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add([]byte(deepLocal(deep[name])))
	}
	f.Add(chainedLocals(100))
	// Only environment values: they set variables a source declares and are
	// ignored otherwise, so valid seeds stay valid.
	opts := config.Options{
		Env: []string{"DGE_VAR_vhost=/fuzz", "DGE_VAR_attempts=3", "DGE_ENVIRONMENT=fuzz"},
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		l := config.NewLoader()
		g, diags := l.LoadSource("fuzz.dge.hcl", src, opts)
		if diags.HasErrors() == (g != nil) {
			t.Fatalf("graph returned = %v with errors = %v", g != nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Summary == "" {
				t.Fatalf("diagnostic without a summary: %#v", d)
			}
		}
		w := hcl.NewDiagnosticTextWriter(discard{}, l.Files(), 80, false)
		if err := w.WriteDiagnostics(diags); err != nil {
			t.Fatal(err)
		}
		if g == nil {
			return
		}
		if len(g.Nodes) == 0 || g.Name == "" {
			t.Fatalf("a valid graph with no name or nodes: %+v", g)
		}
		for i, n := range g.Nodes {
			for _, in := range n.From {
				if indexOf(g.Nodes, in) >= i {
					t.Fatalf("%s comes before its input %s", n.Addr(), in.Addr())
				}
			}
			if n.Kind != config.KindStart && n.Edge == nil {
				t.Fatalf("%s has no edge", n.Addr())
			}
		}
	})
}

func indexOf(nodes []*config.Node, n *config.Node) int {
	for i, m := range nodes {
		if m == n {
			return i
		}
	}
	return -1
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestFuzzSeedsValid checks that the valid graphs among FuzzLoad's seeds
// load under its options, so the fuzzer starts from graphs that reach the
// end of validation.
func TestFuzzSeedsValid(t *testing.T) {
	for _, p := range []string{"../testdata/graphs/arith/graph.dge.hcl", "../testdata/graphs/topo/graph.dge.hcl", "../testdata/graphs/vars/graph.dge.hcl"} {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		l := config.NewLoader()
		if _, diags := l.LoadSource(p, src, config.Options{Env: []string{"DGE_VAR_vhost=/fuzz"}}); diags.HasErrors() {
			t.Errorf("%s:\n%s", p, renderDiags(l, diags))
		}
	}
}
