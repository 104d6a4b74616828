package diagram_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/diagram"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func loadArith(t *testing.T) *config.Graph {
	t.Helper()
	return load(t, "../../examples/arith")
}

// splitDir holds a graph with split and gather nodes in every form,
// nested splits included (the generator's golden case).
const splitDir = "../gen/testdata/split"

// routeDir holds a graph with two routes, one with a default path and one
// inside a split without one, whose paths merge (the generator's golden
// case).
const routeDir = "../gen/testdata/route"

func load(t *testing.T, dir string) *config.Graph {
	t.Helper()
	g, diags := config.NewLoader().Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", dir, diags)
	}
	return g
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		file   string
		dir    string
		render func(*config.Graph) []byte
	}{
		{"arith.dot", "../../examples/arith", diagram.Dot},
		{"arith.mmd", "../../examples/arith", diagram.Mermaid},
		{"split.dot", splitDir, diagram.Dot},
		{"split.mmd", splitDir, diagram.Mermaid},
		{"route.dot", routeDir, diagram.Dot},
		{"route.mmd", routeDir, diagram.Mermaid},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got := tt.render(load(t, tt.dir))
			if again := tt.render(load(t, tt.dir)); !bytes.Equal(got, again) {
				t.Fatalf("two renderings of the same graph differ:\n%s\n---\n%s", got, again)
			}
			golden := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/diagram -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestSplitAndGather checks what a split and a gather add to the picture:
// their shapes, the items label on the arrows leaving a split, and a
// dashed "gathers" arrow from each split to the gather that closes it,
// which carries no counts.
func TestSplitAndGather(t *testing.T) {
	g := load(t, splitDir)
	dot := string(diagram.Dot(g))
	for _, want := range []string{
		`"split.numbers" [label="split numbers", shape=house];`,
		`"gather.sum" [label="gather sum", shape=invhouse];`,
		`"split.numbers" -> "process.fib" [label="fib\nNumber (items)"];`,
		`"process.fib" -> "gather.sum" [label="sum\nNumber"];`,
		`"split.numbers" -> "gather.sum" [label="gathers", style=dashed, constraint=false];`,
		`"split.pages" -> "gather.summaries" [label="gathers", style=dashed, constraint=false];`,
		`"split.documents" -> "gather.report" [label="gathers", style=dashed, constraint=false];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %s\n%s", want, dot)
		}
	}
	mmd := string(diagram.Mermaid(g))
	for _, want := range []string{
		`split_numbers[/"split numbers"/]`,
		`gather_sum[\"gather sum"\]`,
		`split_numbers -->|"fib: Number (items)"| process_fib`,
		`split_numbers -.->|"gathers"| gather_sum`,
	} {
		if !strings.Contains(mmd, want) {
			t.Errorf("mermaid lacks %s\n%s", want, mmd)
		}
	}

	// With live counts: the gather's state queue sum.state is no edge and
	// draws nothing; a parked item turns its arrow red, and Mermaid's
	// linkStyle numbers the message arrows, which come before the dashed
	// ones.
	s := diagram.Status{
		"fib":       {Ready: 7, Parked: 1, Consumers: 3},
		"sum":       {Ready: 2, Consumers: 1},
		"sum.state": {Ready: 1, Consumers: 1},
	}
	dot = string(diagram.DotStatus(g, s))
	if strings.Contains(dot, "state") {
		t.Errorf("dot -status mentions the state queue:\n%s", dot)
	}
	for _, want := range []string{
		`"split.numbers" -> "process.fib" [label="fib\nNumber (items)\nready 7 · retrying 0 · parked 1", color=red, fontcolor=red];`,
		`"process.fib" -> "gather.sum" [label="sum\nNumber\nready 2 · retrying 0 · parked 0"];`,
		`"split.numbers" -> "gather.sum" [label="gathers", style=dashed, constraint=false];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot -status lacks %s\n%s", want, dot)
		}
	}
	mmd = string(diagram.MermaidStatus(g, s))
	if strings.Contains(mmd, "state") {
		t.Errorf("mermaid -status mentions the state queue:\n%s", mmd)
	}
	// fib's arrow is the 7th message arrow (0-based 6) in graph order.
	if !strings.Contains(mmd, "  linkStyle 6 stroke:#d00,color:#d00\n") {
		t.Errorf("mermaid -status does not colour fib's arrow (link 6) alone:\n%s", mmd)
	}
}

// TestRouteAndMerge checks what routes and merges add to the picture: the
// route's diamond (rhombus in Mermaid), each edge leaving a route labelled
// first with the label that takes it ("otherwise" for the default path),
// and a merge drawn as one arrow from each of its inputs into the one node;
// with live counts, the counts come after the label.
func TestRouteAndMerge(t *testing.T) {
	g := load(t, routeDir)
	dot := string(diagram.Dot(g))
	for _, want := range []string{
		`"route.by_kind" [label="route by_kind", shape=diamond];`,
		`"route.by_kind" -> "process.invoice" [label="when invoice\ninvoices\nDocument"];`,
		`"route.by_kind" -> "process.other" [label="otherwise\nothers\nDocument"];`,
		`"split.documents" -> "route.by_size" [label="sizes\nDocument (items)"];`,
		`"route.by_size" -> "process.shrink" [label="when large\nlarge\nDocument"];`,
		`"process.invoice" -> "terminate.filed" [label="filed\nFiled"];`,
		`"process.receipt" -> "terminate.filed" [label="filed\nFiled"];`,
		`"process.other" -> "terminate.filed" [label="filed\nFiled"];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %s\n%s", want, dot)
		}
	}
	if n := strings.Count(dot, `-> "terminate.filed"`); n != 3 {
		t.Errorf("dot draws %d arrows into the merge terminate.filed, want 3:\n%s", n, dot)
	}
	if strings.Contains(dot, "when *") {
		t.Errorf("dot labels the default path by its *, not otherwise:\n%s", dot)
	}
	mmd := string(diagram.Mermaid(g))
	for _, want := range []string{
		`route_by_kind{"route by_kind"}`,
		`route_by_kind -->|"when invoice<br>invoices: Document"| process_invoice`,
		`route_by_kind -->|"otherwise<br>others: Document"| process_other`,
		`process_other -->|"filed: Filed"| terminate_filed`,
	} {
		if !strings.Contains(mmd, want) {
			t.Errorf("mermaid lacks %s\n%s", want, mmd)
		}
	}

	s := diagram.Status{"others": {Ready: 4, Parked: 1, Consumers: 1}}
	dot = string(diagram.DotStatus(g, s))
	want := `"route.by_kind" -> "process.other" [label="otherwise\nothers\nDocument\nready 4 · retrying 0 · parked 1", color=red, fontcolor=red];`
	if !strings.Contains(dot, want) {
		t.Errorf("dot -status lacks %s\n%s", want, dot)
	}
	mmd = string(diagram.MermaidStatus(g, s))
	if want := `route_by_kind -->|"otherwise<br>others: Document<br>ready 4 · retrying 0 · parked 1"| process_other`; !strings.Contains(mmd, want) {
		t.Errorf("mermaid -status lacks %s\n%s", want, mmd)
	}
	// others' arrow is the 10th message arrow (0-based 9) in graph order.
	if !strings.Contains(mmd, "  linkStyle 9 stroke:#d00,color:#d00\n") {
		t.Errorf("mermaid -status does not colour others' arrow (link 9) alone:\n%s", mmd)
	}
}

// handGraph builds a graph by hand with names no loader would accept, to
// check that rendering quotes and escapes them rather than trusting them.
func handGraph() *config.Graph {
	start := &config.Node{Kind: config.KindStart, Name: `s"1`}
	end := &config.Node{Kind: config.KindTerminate, Name: "end"}
	odd := &config.Node{Kind: config.KindProcess, Name: `a\b<c>`}
	odd.From = []*config.Node{start}
	odd.Edge = &config.Edge{Queue: `q"x`, Message: "M\nN"}
	end.From = []*config.Node{odd}
	end.Edge = &config.Edge{Queue: "out", Message: "M"}
	start.To = []*config.Node{odd}
	odd.To = []*config.Node{end}
	return &config.Graph{Name: `g "x"`, Nodes: []*config.Node{start, odd, end}}
}

func TestDotEscapes(t *testing.T) {
	got := string(diagram.Dot(handGraph()))
	for _, want := range []string{
		`digraph "g \"x\"" {`,
		`"start.s\"1" [label="start s\"1", shape=Mdiamond];`,
		`"process.a\\b<c>" [label="process a\\b<c>", shape=box];`,
		`"start.s\"1" -> "process.a\\b<c>" [label="q\"x\nM\nN"];`,
		`"terminate.end" [label="terminate end", shape=Msquare];`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dot output lacks %s\n%s", want, got)
		}
	}
}

func TestMermaidEscapes(t *testing.T) {
	got := string(diagram.Mermaid(handGraph()))
	for _, want := range []string{
		"title: \"g \\\"x\\\"\"\n",
		`start_s_1(["start s#quot;1"])`,
		`process_a_b_c_["process a\b#lt;c#gt;"]`,
		`start_s_1 -->|"q#quot;x: M N"| process_a_b_c_`,
		`terminate_end[("terminate end")]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("mermaid output lacks %s\n%s", want, got)
		}
	}
	// No node ID may be a bare Mermaid keyword such as "end".
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "end") {
			t.Errorf("line starts with the keyword end: %q", line)
		}
	}
}

func TestMermaidIDsUnique(t *testing.T) {
	a := &config.Node{Kind: config.KindStart, Name: "a.b"}
	b := &config.Node{Kind: config.KindStart, Name: "a-b"}
	got := string(diagram.Mermaid(&config.Graph{Name: "g", Nodes: []*config.Node{a, b}}))
	if !strings.Contains(got, `start_a_b(["start a.b"])`) || !strings.Contains(got, `start_a_b_1(["start a-b"])`) {
		t.Errorf("clashing IDs not made unique:\n%s", got)
	}
}

func TestEveryKindHasItsOwnShape(t *testing.T) {
	var nodes []*config.Node
	for _, k := range config.Kinds {
		nodes = append(nodes, &config.Node{Kind: k, Name: "n"})
	}
	g := &config.Graph{Name: "g", Nodes: nodes}
	dotShapes := map[string]bool{}
	for _, line := range strings.Split(string(diagram.Dot(g)), "\n") {
		if i := strings.Index(line, "shape="); i >= 0 {
			dotShapes[line[i:]] = true
		}
	}
	if len(dotShapes) != len(config.Kinds) {
		t.Errorf("dot: %d distinct shapes for %d kinds: %v", len(dotShapes), len(config.Kinds), dotShapes)
	}
	mmdShapes := map[string]bool{}
	for _, line := range strings.Split(string(diagram.Mermaid(g)), "\n")[4:] {
		if line == "" {
			continue
		}
		// Strip the ID and label, keeping the shape's brackets.
		id, rest, _ := strings.Cut(strings.TrimSpace(line), `"`)
		_, closing, _ := strings.Cut(rest, `"`)
		mmdShapes[strings.TrimLeft(id, "abcdefghijklmnopqrstuvwxyz_")+closing] = true
	}
	if len(mmdShapes) != len(config.Kinds) {
		t.Errorf("mermaid: %d distinct shapes for %d kinds: %v", len(mmdShapes), len(config.Kinds), mmdShapes)
	}
}

// TestNoConsumer: only a node that consumes a queue, whose queue exists
// and has no consumer, is marked; terminate nodes (their results wait for
// a reader) and nodes without counts never are.
func TestNoConsumer(t *testing.T) {
	g := loadArith(t)
	node := func(addr string) *config.Node {
		for _, n := range g.Nodes {
			if n.Addr() == addr {
				return n
			}
		}
		t.Fatalf("no node %s", addr)
		return nil
	}
	s := diagram.Status{
		"input_copy_1": {Ready: 3},
		"input_copy_2": {Consumers: 1},
		"multiply":     {Missing: true},
		"result":       {Ready: 2},
	}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"process.double", true},
		{"process.square", false},
		{"aggregate.multiply", false},
		{"poll.rest_call", false}, // no counts
		{"terminate.result", false},
		{"start.start", false},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			if got := s.NoConsumer(node(tt.addr)); got != tt.want {
				t.Errorf("NoConsumer(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	if !bytes.Equal(diagram.DotStatus(g, nil), diagram.Dot(g)) || !bytes.Equal(diagram.MermaidStatus(g, nil), diagram.Mermaid(g)) {
		t.Error("a nil Status draws something else than Dot and Mermaid")
	}
	if out := string(diagram.MermaidStatus(g, s)); !strings.Contains(out, `"aggregate multiply<br>multiply: queue missing"`) {
		t.Errorf("a missing queue is not labelled so:\n%s", out)
	}
}

// TestStatusGolden: dge graph -status of arith, whose aggregate's one queue
// is fed by two arrows. Each queue's counts are drawn once: on the arrow
// into a node fed by one arrow, on the node for the aggregate (issue:
// "parked 4" drawn on both arrows read as 8).
func TestStatusGolden(t *testing.T) {
	g := loadArith(t)
	s := diagram.Status{
		"input":        {Ready: 1, Consumers: 1},
		"input_copy_1": {Parked: 4},
		"input_copy_2": {Consumers: 1},
		"multiply":     {Retrying: 2, Parked: 4, Consumers: 1},
	}
	for _, tt := range []struct {
		file   string
		render func(*config.Graph, diagram.Status) []byte
	}{
		{"arith-status.dot", diagram.DotStatus},
		{"arith-status.mmd", diagram.MermaidStatus},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got := tt.render(g, s)
			if n := strings.Count(string(got), "retrying 2 · parked 4"); n != 1 {
				t.Errorf("the aggregate's queue counts are drawn %d times, want once:\n%s", n, got)
			}
			golden := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/diagram -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}
