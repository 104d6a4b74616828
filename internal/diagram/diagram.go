package diagram

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dgehq/dge/config"
)

// edge is one arrow: a message from From into To's queue.
type edge struct {
	From, To *config.Node
}

// edges returns every arrow of g: grouped by destination in g.Nodes order
// (topological, so the listing reads from start to terminate), then in the
// order of the destination's `from`.
func edges(g *config.Graph) []edge {
	var es []edge
	for _, n := range g.Nodes {
		for _, f := range n.From {
			es = append(es, edge{From: f, To: n})
		}
	}
	return es
}

// label returns a node's label, "kind name".
func label(n *config.Node) string { return string(n.Kind) + " " + n.Name }

// message returns the message type an edge's label shows: the type that
// travels on it, followed by " (items)" when it leaves a split, whose
// output is one message per item of the handler's list.
func (e edge) message() string {
	m := e.To.InputFrom(e.From)
	if e.From.Kind == config.KindSplit {
		m += " (items)"
	}
	return m
}

// when returns the line an edge from a route carries first: "when LABEL"
// for the path that takes LABEL, "otherwise" for the default path; "" for
// every other edge.
func (e edge) when() string {
	switch {
	case e.From.Kind != config.KindRoute || e.To.When == "":
		return ""
	case e.To.When == config.WhenDefault:
		return otherwise
	}
	return "when " + e.To.When
}

// otherwise labels the edge from a route to its default path.
const otherwise = "otherwise"

// gathers returns the gathers of g that name the split they close, in
// graph order: each is drawn with a dashed arrow from that split.
func gathers(g *config.Graph) []*config.Node {
	var gs []*config.Node
	for _, n := range g.Nodes {
		if n.Kind == config.KindGather && n.Over != nil {
			gs = append(gs, n)
		}
	}
	return gs
}

// gathersLabel labels the dashed arrow from a split to the gather that
// closes it.
const gathersLabel = "gathers"

// dotShapes gives each node kind its Graphviz shape.
var dotShapes = map[config.Kind]string{
	config.KindStart:     "Mdiamond",
	config.KindProcess:   "box",
	config.KindFanOut:    "trapezium",
	config.KindAggregate: "invtrapezium",
	config.KindPoll:      "hexagon",
	config.KindRoute:     "diamond",
	config.KindSplit:     "house",
	config.KindGather:    "invhouse",
	config.KindTerminate: "Msquare",
}

// Dot returns g as a Graphviz digraph, laid out left to right. Node IDs are
// the nodes' addresses, quoted.
func Dot(g *config.Graph) []byte { return DotStatus(g, nil) }

// DotStatus returns g as Dot does, annotated with live counts: each edge
// whose queue s holds gets a line "ready N · retrying N · parked N" (red
// when something is parked), except that the queue of a node fed by
// several edges (an aggregate's) has its counts once, on the node, as
// "Q: ready N · ...", and each node s marks (see Status.NoConsumer)
// is drawn dashed and red, labelled "no consumer". A nil s draws what Dot
// draws.
func DotStatus(g *config.Graph, s Status) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(g.Name))
	fmt.Fprintf(&b, "  graph [rankdir=LR, label=%s, labelloc=t, fontname=\"Helvetica\"];\n", dotQuote("graph "+g.Name))
	b.WriteString("  node [fontname=\"Helvetica\"];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("\n")
	for _, n := range g.Nodes {
		shape, ok := dotShapes[n.Kind]
		if !ok {
			shape = "box"
		}
		lines, red := s.nodeLines(n)
		switch {
		case s.NoConsumer(n):
			fmt.Fprintf(&b, "  %s [label=%s, shape=%s, style=dashed, color=red];\n",
				dotQuote(n.Addr()), dotQuoteLines(lines...), shape)
		case red:
			fmt.Fprintf(&b, "  %s [label=%s, shape=%s, color=red, fontcolor=red];\n", dotQuote(n.Addr()), dotQuoteLines(lines...), shape)
		default:
			fmt.Fprintf(&b, "  %s [label=%s, shape=%s];\n", dotQuote(n.Addr()), dotQuoteLines(lines...), shape)
		}
	}
	if es := edges(g); len(es) > 0 {
		b.WriteString("\n")
		for _, e := range es {
			lines := []string{e.To.Edge.Queue, e.message()}
			if w := e.when(); w != "" {
				lines = append([]string{w}, lines...)
			}
			attrs := ""
			if c, ok := s.edgeCounts(e.To); ok {
				lines = append(lines, c.label())
				if c.Parked > 0 || c.Missing {
					attrs = ", color=red, fontcolor=red"
				}
			}
			fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n",
				dotQuote(e.From.Addr()), dotQuote(e.To.Addr()), dotQuoteLines(lines...), attrs)
		}
	}
	for _, n := range gathers(g) {
		// constraint=false: the arrow does not pull the gather's rank
		// towards the split; the message flow lays the picture out.
		fmt.Fprintf(&b, "  %s -> %s [label=%s, style=dashed, constraint=false];\n",
			dotQuote(n.Over.Addr()), dotQuote(n.Addr()), dotQuote(gathersLabel))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// dotQuote returns s as a double-quoted dot string. Backslashes are escaped
// too, so no value can smuggle in a dot escape sequence such as \N or \l.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// dotQuoteLines quotes lines as one dot string that shows them on separate,
// centred lines.
func dotQuoteLines(lines ...string) string {
	quoted := make([]string, len(lines))
	for i, l := range lines {
		q := dotQuote(l)
		quoted[i] = q[1 : len(q)-1]
	}
	return `"` + strings.Join(quoted, `\n`) + `"`
}

// mermaidShapes gives each node kind its Mermaid flowchart shape, as the
// text before and after the quoted label.
var mermaidShapes = map[config.Kind][2]string{
	config.KindStart:     {"([", "])"}, // stadium
	config.KindProcess:   {"[", "]"},   // rectangle
	config.KindFanOut:    {"[/", `\]`}, // trapezoid
	config.KindAggregate: {`[\`, "/]"}, // inverted trapezoid
	config.KindPoll:      {"{{", "}}"}, // hexagon
	config.KindRoute:     {"{", "}"},   // rhombus: a decision
	config.KindSplit:     {"[/", "/]"}, // parallelogram
	config.KindGather:    {`[\`, `\]`}, // parallelogram leaning the other way
	config.KindTerminate: {"[(", ")]"}, // cylinder: the results wait in a queue
}

// Mermaid returns g as a Mermaid flowchart, laid out left to right, titled
// with the graph's name. Node IDs are "<kind>_<name>", reduced to letters,
// digits and underscores (so no ID is a Mermaid keyword such as end).
func Mermaid(g *config.Graph) []byte { return MermaidStatus(g, nil) }

// MermaidStatus returns g as Mermaid does, annotated with live counts like
// DotStatus: a second line on each edge whose queue s holds (the arrow red
// when something is parked), and the nodes s marks labelled "no consumer"
// and styled with the class noConsumer (dashed, red). A nil s draws what
// Mermaid draws.
func MermaidStatus(g *config.Graph, s Status) []byte {
	ids := mermaidIDs(g)
	var marked []string // nodes without a consumer
	var parked []string // nodes whose queue, fed by several edges, holds parked messages or is missing
	var b bytes.Buffer
	fmt.Fprintf(&b, "---\ntitle: %s\n---\n", mermaidTitle(g.Name))
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		shape, ok := mermaidShapes[n.Kind]
		if !ok {
			shape = mermaidShapes[config.KindProcess]
		}
		lines, red := s.nodeLines(n)
		text := mermaidQuoteLines(lines...)
		switch {
		case s.NoConsumer(n):
			marked = append(marked, ids[n])
		case red:
			parked = append(parked, ids[n])
		}
		fmt.Fprintf(&b, "  %s%s%s%s\n", ids[n], shape[0], text, shape[1])
	}
	var red []string
	for i, e := range edges(g) {
		lines := []string{e.To.Edge.Queue + ": " + e.message()}
		if w := e.when(); w != "" {
			lines = append([]string{w}, lines...)
		}
		c, ok := s.edgeCounts(e.To)
		if ok {
			lines = append(lines, c.label())
		}
		text := mermaidQuoteLines(lines...)
		if ok {
			if c.Parked > 0 || c.Missing {
				red = append(red, fmt.Sprint(i))
			}
		}
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", ids[e.From], text, ids[e.To])
	}
	// After the message flows, so linkStyle's link numbers above hold.
	for _, n := range gathers(g) {
		fmt.Fprintf(&b, "  %s -.->|%s| %s\n", ids[n.Over], mermaidQuote(gathersLabel), ids[n])
	}
	if len(marked) > 0 {
		b.WriteString("  classDef noConsumer stroke:#d00,stroke-width:2px,stroke-dasharray:5 5\n")
		fmt.Fprintf(&b, "  class %s noConsumer\n", strings.Join(marked, ","))
	}
	if len(parked) > 0 {
		b.WriteString("  classDef parked stroke:#d00,color:#d00\n")
		fmt.Fprintf(&b, "  class %s parked\n", strings.Join(parked, ","))
	}
	if len(red) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:#d00,color:#d00\n", strings.Join(red, ","))
	}
	return b.Bytes()
}

// mermaidIDs assigns every node a unique Mermaid-safe ID.
func mermaidIDs(g *config.Graph) map[*config.Node]string {
	ids := make(map[*config.Node]string, len(g.Nodes))
	used := make(map[string]bool, len(g.Nodes))
	for i, n := range g.Nodes {
		var b strings.Builder
		for _, r := range string(n.Kind) + "_" + n.Name {
			if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		id := b.String()
		if used[id] {
			id = fmt.Sprintf("%s_%d", id, i)
		}
		used[id] = true
		ids[n] = id
	}
	return ids
}

// mermaidQuote returns s as a double-quoted Mermaid label, with the
// characters Mermaid would read as markup written as entity codes.
func mermaidQuote(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}

// mermaidQuoteLines quotes lines as one Mermaid label that shows them on
// separate lines.
func mermaidQuoteLines(lines ...string) string {
	quoted := make([]string, len(lines))
	for i, l := range lines {
		q := mermaidQuote(l)
		quoted[i] = q[1 : len(q)-1]
	}
	return `"` + strings.Join(quoted, "<br>") + `"`
}

// mermaidTitle keeps a title on one YAML line: graph names are identifiers,
// but anything else is quoted.
func mermaidTitle(s string) string {
	for _, r := range s {
		if !(r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
