package diagram_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/diagram"
)

// meshGraph returns a graph of about n nodes: a start, a fan_out into
// lanes of processes where every third step is a fan_out that also feeds
// the next step of the lane beside it (a merge), and at the end of each
// lane a split, a process, the gather closing the split and a terminate.
// Lines cross and span layers.
func meshGraph(n int) []byte {
	const lanes = 20
	depth := max((n-2)/lanes-4, 2)
	depth -= depth % 3 // the last step is no fan_out
	var b strings.Builder
	b.WriteString("graph \"mesh\" {\n  handlers = \"example.com/mesh\"\n}\n\nstart \"in\" {}\n\n")
	b.WriteString("fan_out \"fan\" {\n  from    = start.in\n  queue   = \"fan\"\n  message = \"Job\"\n}\n\n")
	addr := func(l, d int) string {
		if d%3 == 2 {
			return fmt.Sprintf("fan_out.f%d_%d", l, d)
		}
		return fmt.Sprintf("process.p%d_%d", l, d)
	}
	for d := range depth {
		for l := range lanes {
			from := "fan_out.fan"
			switch {
			case d > 0 && d%3 == 0:
				from = fmt.Sprintf("[%s, %s]", addr(l, d-1), addr((l+1)%lanes, d-1))
			case d > 0:
				from = addr(l, d-1)
			}
			kind, name, _ := strings.Cut(addr(l, d), ".")
			handler := "  handler = \"P\"\n"
			if kind == "fan_out" {
				handler = ""
			}
			fmt.Fprintf(&b, "%s %q {\n  from    = %s\n  queue   = %q\n  message = \"Job\"\n%s}\n\n", kind, name, from, name, handler)
		}
	}
	for l := range lanes {
		fmt.Fprintf(&b, "split \"s%d\" {\n  from    = %s\n  queue   = \"s%d\"\n  message = \"Job\"\n  handler = \"S\"\n}\n\n", l, addr(l, depth-1), l)
		fmt.Fprintf(&b, "process \"q%d\" {\n  from    = split.s%d\n  queue   = \"q%d\"\n  message = \"Job\"\n  handler = \"P\"\n}\n\n", l, l, l)
		fmt.Fprintf(&b, "gather \"g%d\" {\n  from    = process.q%d\n  over    = split.s%d\n  queue   = \"g%d\"\n  message = \"Job\"\n  handler = \"G\"\n}\n\n", l, l, l, l)
		fmt.Fprintf(&b, "terminate \"out%d\" {\n  from    = gather.g%d\n  queue   = \"out%d\"\n  message = \"Job\"\n}\n\n", l, l, l)
	}
	return []byte(b.String())
}

func loadSource(t testing.TB, src []byte) *config.Graph {
	t.Helper()
	g, diags := config.NewLoader().LoadSource("mesh.dge.hcl", src, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	return g
}

func TestLayout(t *testing.T) {
	for _, tt := range []struct {
		name string
		load func(t *testing.T) *config.Graph
	}{
		{"arith", loadArith},
		{"split", func(t *testing.T) *config.Graph { return load(t, splitDir) }},
		{"route", func(t *testing.T) *config.Graph { return load(t, routeDir) }},
		{"mesh1000", func(t *testing.T) *config.Graph { return loadSource(t, meshGraph(1000)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.load(t)
			got := diagram.NewLayout(g)
			if diff := cmp.Diff(got, diagram.NewLayout(tt.load(t))); diff != "" {
				t.Fatalf("two layouts of the same graph differ (-first +second):\n%s", diff)
			}
			checkLayout(t, g, got)
		})
	}
}

// checkLayout checks what a drawing needs of a layout: every node of g
// has a box inside the canvas, no two boxes overlap, every arrow of g is
// an edge that starts on its source's right side and ends on its target's
// left side, further right, and no line runs through a box.
func checkLayout(t *testing.T, g *config.Graph, l diagram.Layout) {
	t.Helper()
	if len(l.Nodes) != len(g.Nodes) {
		t.Fatalf("%d boxes for %d nodes", len(l.Nodes), len(g.Nodes))
	}
	box := map[string]diagram.LayoutNode{}
	for i, n := range l.Nodes {
		if n.Addr != g.Nodes[i].Addr() || n.Kind != string(g.Nodes[i].Kind) || n.Name != g.Nodes[i].Name {
			t.Errorf("box %d is %s (%s %s), want %s", i, n.Addr, n.Kind, n.Name, g.Nodes[i].Addr())
		}
		if n.X < 0 || n.Y < 0 || n.X+n.W > l.Width || n.Y+n.H > l.Height || n.W <= 0 || n.H <= 0 {
			t.Errorf("box %s %+v outside the %dx%d canvas", n.Addr, n, l.Width, l.Height)
		}
		box[n.Addr] = n
	}
	for i, a := range l.Nodes {
		for _, b := range l.Nodes[i+1:] {
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("boxes overlap: %s %+v and %s %+v", a.Addr, a, b.Addr, b)
			}
		}
	}
	arrows := 0
	for _, n := range g.Nodes {
		arrows += len(n.From)
	}
	if len(l.Edges) != arrows {
		t.Errorf("%d edges for %d arrows", len(l.Edges), arrows)
	}
	check := func(kind, from, to string, ps [][2]int) {
		src, dst := box[from], box[to]
		if len(ps) < 2 {
			t.Errorf("%s %s -> %s has %d points", kind, from, to, len(ps))
			return
		}
		if p := ps[0]; p[0] != src.X+src.W || p[1] < src.Y || p[1] > src.Y+src.H {
			t.Errorf("%s %s -> %s starts at %v, not on the right side of %+v", kind, from, to, p, src)
		}
		if p := ps[len(ps)-1]; p[0] != dst.X || p[1] < dst.Y || p[1] > dst.Y+dst.H {
			t.Errorf("%s %s -> %s ends at %v, not on the left side of %+v", kind, from, to, p, dst)
		}
		if dst.X <= src.X+src.W {
			t.Errorf("%s %s -> %s does not go right: %+v then %+v", kind, from, to, src, dst)
		}
		for k := 1; k < len(ps); k++ {
			if ps[k][0] < ps[k-1][0] {
				t.Errorf("%s %s -> %s goes left at point %d: %v", kind, from, to, k, ps)
			}
			for _, b := range l.Nodes {
				if crosses(ps[k-1], ps[k], b) {
					t.Errorf("%s %s -> %s runs through %s: %v", kind, from, to, b.Addr, ps)
				}
			}
		}
	}
	for _, e := range l.Edges {
		n := g.Node(e.To)
		if n == nil || n.Edge.Queue != e.Queue {
			t.Errorf("edge %s -> %s: queue %q, node %v", e.From, e.To, e.Queue, n)
		}
		check("edge", e.From, e.To, e.Points)
	}
	for _, e := range l.Gathers {
		if n := g.Node(e.To); n == nil || n.Over == nil || n.Over.Addr() != e.From {
			t.Errorf("gathers line %s -> %s: no gather over that split", e.From, e.To)
		}
		check("gathers", e.From, e.To, e.Points)
	}
}

// crosses reports whether segment p-q passes through the inside of box b
// (both ends on its border, as an edge's first and last points are, do
// not count). Segments are horizontal inside a layer and only leave it in
// the gaps, so sampling along x is exact enough here.
func crosses(p, q [2]int, b diagram.LayoutNode) bool {
	if max(p[0], q[0]) <= b.X || min(p[0], q[0]) >= b.X+b.W {
		return false
	}
	for s := 0; s <= 64; s++ {
		x := float64(p[0]) + float64(q[0]-p[0])*float64(s)/64
		y := float64(p[1]) + float64(q[1]-p[1])*float64(s)/64
		if x > float64(b.X) && x < float64(b.X+b.W) && y > float64(b.Y) && y < float64(b.Y+b.H) {
			return true
		}
	}
	return false
}

// TestLayoutArith pins the arith example's shape and the JSON names the
// console's pages read.
func TestLayoutArith(t *testing.T) {
	l := diagram.NewLayout(loadArith(t))
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"width", "height", "nodes", "edges", "gathers"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("layout JSON has no %q: %s", k, b)
		}
	}
	node := doc["nodes"].([]any)[0].(map[string]any)
	for _, k := range []string{"addr", "kind", "name", "x", "y", "w", "h"} {
		if _, ok := node[k]; !ok {
			t.Errorf("node JSON has no %q: %v", k, node)
		}
	}
	edge := doc["edges"].([]any)[0].(map[string]any)
	for _, k := range []string{"from", "to", "queue", "message", "when", "items", "points"} {
		if _, ok := edge[k]; !ok {
			t.Errorf("edge JSON has no %q: %v", k, edge)
		}
	}
	if l.Gathers == nil || len(l.Gathers) != 0 {
		t.Errorf("arith has no split: gathers %v, want [] (not null)", l.Gathers)
	}
}

// TestLayoutSplit checks the dashed gathers lines and items edges.
func TestLayoutSplit(t *testing.T) {
	g := load(t, splitDir)
	l := diagram.NewLayout(g)
	want := 0
	for _, n := range g.Nodes {
		if n.Kind == config.KindGather && n.Over != nil {
			want++
		}
	}
	if want == 0 || len(l.Gathers) != want {
		t.Errorf("%d gathers lines, want %d", len(l.Gathers), want)
	}
	for _, e := range l.Edges {
		if e.Items != strings.HasPrefix(e.From, "split.") {
			t.Errorf("edge %s -> %s: items %v", e.From, e.To, e.Items)
		}
	}
}

// TestLayoutRoute checks that arrows from a route carry their path's label.
func TestLayoutRoute(t *testing.T) {
	g := load(t, routeDir)
	l := diagram.NewLayout(g)
	seen := 0
	for _, e := range l.Edges {
		to := g.Node(e.To)
		switch {
		case strings.HasPrefix(e.From, "route."):
			seen++
			if e.When != to.When || e.When == "" {
				t.Errorf("edge %s -> %s: when %q, want %q", e.From, e.To, e.When, to.When)
			}
		case e.When != "":
			t.Errorf("edge %s -> %s not from a route: when %q", e.From, e.To, e.When)
		}
	}
	if seen == 0 {
		t.Error("no edge from a route")
	}
}

func TestLayoutEmpty(t *testing.T) {
	l := diagram.NewLayout(&config.Graph{Name: "empty"})
	if l.Width <= 0 || l.Height <= 0 || l.Nodes == nil || l.Edges == nil {
		t.Errorf("empty layout %+v: want a small canvas and empty lists", l)
	}
}

func BenchmarkLayout1000(b *testing.B) {
	g := loadSource(b, meshGraph(1000))
	for b.Loop() {
		diagram.NewLayout(g)
	}
	b.ReportMetric(float64(len(g.Nodes)), "nodes")
}
