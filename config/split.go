package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Split and gather: a gather's own attributes (over, zero), read here and
// resolved after the from references.

// buildGather reads a gather's over, a reference to the split it closes
// (resolved by linkOver), and its zero, the name of a function of the
// handlers package. Whether the handler is in the list or the fold form is
// decided by the generator from its Go signature, so zero is only checked
// as a name here.
func (s *state) buildGather(d *nodeDecl, n *Node) {
	if attr, ok := d.attrs["over"]; ok {
		n.OverRange = attr.Expr.Range()
		d.over = s.decodeOver(d, attr.Expr)
	} else {
		s.missing(d, "an over", "the split it closes, such as over = split.pages; a gather fires once per split of that node, when all its items are in.")
	}
	if attr, ok := d.attrs["zero"]; ok {
		n.ZeroRange = attr.Expr.Range()
		zero := func(v string) string { return goNameProblem(v, "zero function") }
		if v, ok := s.evalChecked(attr, "zero", "Invalid zero function name", zero); ok {
			n.Zero = v
		}
	}
}

// decodeOver reads a gather's over as a reference, split.NAME, without
// evaluating it.
func (s *state) decodeOver(d *nodeDecl, expr hcl.Expression) *fromRef {
	rng := expr.Range()
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(t) != 2 {
		hint := ""
		if len(expr.Variables()) == 0 {
			if v, vDiags := s.evaluate(expr, nil); !vDiags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				hint = fmt.Sprintf(": over = %s", v.AsString())
			}
		}
		s.errorf(&rng, "Invalid over reference",
			"over names the split %s closes with a reference, split.NAME, not a string or an expression. Write it without quotes%s.", d.addr(), hint)
		return nil
	}
	a, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		s.errorf(&rng, "Invalid over reference",
			"over names the split %s closes with a reference, split.NAME, such as over = split.pages.", d.addr())
		return nil
	}
	return &fromRef{kind: Kind(t.RootName()), name: a.Name, rng: t.SourceRange()}
}

// linkOver resolves each gather's over reference to a split node of the
// graph and sets Node.Over.
func (s *state) linkOver(nodes []*nodeDecl) {
	byAddr := map[string]*nodeDecl{}
	byName := map[string]*nodeDecl{}
	var splits []string
	for _, d := range nodes {
		byAddr[d.addr()] = d
		byName[d.name] = d
		if d.kind == KindSplit {
			splits = append(splits, d.addr())
		}
	}
	dup := map[string]bool{}
	for _, d := range s.nodes {
		if d.dup {
			dup[d.addr()] = true
		}
	}
	for _, d := range nodes {
		r := d.over
		if r == nil {
			continue
		}
		t := byAddr[r.addr()]
		if t == nil {
			if dup[r.addr()] {
				continue // the duplicate is reported; don't pile on
			}
			hint := ""
			if same := byName[r.name]; same != nil && same.kind == KindSplit {
				hint = fmt.Sprintf(" (did you mean %s?)", same.addr())
			} else {
				hint = suggestSuffix(r.addr(), splits)
			}
			s.errorf(r.rng.Ptr(), "Reference to undeclared split",
				"There is no split %s%s. over names the split node that %s closes: declare it, or fix the reference.", r.addr(), hint, d.addr())
			continue
		}
		if t.kind != KindSplit {
			s.errorf(r.rng.Ptr(), "Gather over a node that is not a split",
				"%s is a %s; over names the split node whose items %s gathers, such as over = split.pages. Name a split, or use an aggregate to join the outputs of several nodes.", t.addr(), t.kind, d.addr())
			continue
		}
		r.target = t
		d.node.Over = t.node
	}
}

// The split regions. Every node has a stack of open splits on its input
// path: a split pushes itself for its successors, a gather pops the split
// it closes. Between a split and its gather, each message is one item of
// the split, so the region must be closed: every path out of a split
// reaches its gather, nothing joins it from outside, and splits nest.

// splitStack is the stack of open splits after a node, outermost first.
// bad marks a stack that an error upstream made meaningless: checks below
// it are skipped, so one mistake is reported once.
type splitStack struct {
	open []*Node
	bad  bool
}

func (st splitStack) top() *Node {
	if len(st.open) == 0 {
		return nil
	}
	return st.open[len(st.open)-1]
}

func (st splitStack) holds(split *Node) bool {
	for _, s := range st.open {
		if s == split {
			return true
		}
	}
	return false
}

func (st splitStack) equal(o splitStack) bool {
	if len(st.open) != len(o.open) {
		return false
	}
	for i := range st.open {
		if st.open[i] != o.open[i] {
			return false
		}
	}
	return true
}

// describe says where a node with this stack is, for diagnostics.
func (st splitStack) describe() string {
	if len(st.open) == 0 {
		return "outside any split"
	}
	s := "inside " + st.top().Addr()
	for i := len(st.open) - 2; i >= 0; i-- {
		s += ", nested in " + st.open[i].Addr()
	}
	return s
}

// checkGathers reports a split closed by more than one gather: a split's
// items meet in one gather, which fires once per split. Each gather after
// the first, in source order, is reported at its over.
func (s *state) checkGathers(nodes []*nodeDecl) {
	first := map[*Node]*nodeDecl{}
	gathers := make([]*nodeDecl, 0, len(nodes))
	for _, d := range nodes {
		if d.kind == KindGather && d.node.Over != nil {
			gathers = append(gathers, d)
		}
	}
	sortByRange(gathers, func(d *nodeDecl) hcl.Range { return d.declRange })
	for _, d := range gathers {
		split := d.node.Over
		prev, ok := first[split]
		if !ok {
			first[split] = d
			continue
		}
		s.errorf(d.node.OverRange.Ptr(), "Split gathered twice",
			"%s is already closed by %s (%s); a split has exactly one gather, which fires once when all of the split's items are in. Remove one of the two gathers, or give %s a split of its own.",
			split.Addr(), prev.addr(), prev.declRange, d.addr())
	}
}

// checkSplits computes every node's stack of open splits, in topological
// order (order), and reports what breaks a split region: an aggregate
// that joins paths from different splits or joins inside a split, a
// gather that does not close the innermost open split on its path, a
// merge of paths from different splits, and a path that ends inside a
// split. It needs an acyclic graph.
func (s *state) checkSplits(nodes []*nodeDecl, order []*Node) {
	decl := map[*Node]*nodeDecl{}
	gatherOf := map[*Node]*Node{}
	for _, d := range nodes {
		decl[d.node] = d
		if d.kind == KindGather && d.node.Over != nil && gatherOf[d.node.Over] == nil {
			gatherOf[d.node.Over] = d.node
		}
	}
	out := map[*Node]splitStack{}
	for _, n := range order {
		d := decl[n]
		if d == nil {
			continue
		}
		in := s.inputStack(d, out)
		st := in
		switch {
		case in.bad:
		case n.Kind == KindAggregate:
			st = s.checkAggregateSplits(d, out)
		case len(n.From) > 1:
			st = s.checkMergeSplits(d, out)
		case n.Kind == KindSplit:
			st = splitStack{open: append(append([]*Node(nil), in.open...), n)}
		case n.Kind == KindGather:
			st = s.checkGatherSplit(d, in, out)
		}
		out[n] = st
		if !st.bad && len(st.open) > 0 && (n.Kind == KindTerminate || len(n.To) == 0) {
			s.reportUngathered(d, st, out, gatherOf)
		}
	}
}

// inputStack returns the stack of open splits of d's input: that of its
// (first) from node; bad when a from reference did not resolve or an
// input's stack is bad.
func (s *state) inputStack(d *nodeDecl, out map[*Node]splitStack) splitStack {
	n := d.node
	if n.Kind == KindStart {
		return splitStack{}
	}
	if len(n.From) == 0 || len(n.From) != len(d.from) {
		return splitStack{bad: true}
	}
	if attr := d.attrs["from"]; (n.Kind == KindAggregate || isMerge(d)) && attr != nil {
		if exprs, diags := hcl.ExprList(attr.Expr); diags.HasErrors() || len(exprs) != len(n.From) {
			return splitStack{bad: true}
		}
	}
	for _, f := range n.From {
		if out[f].bad {
			return splitStack{bad: true}
		}
	}
	return out[n.From[0]]
}

// checkAggregateSplits checks that an aggregate's inputs all come from
// the same place, and that this place is outside every split: an
// aggregate joins the parts of one run, and inside a split every item of
// the run would be such a part.
func (s *state) checkAggregateSplits(d *nodeDecl, out map[*Node]splitStack) splitStack {
	n := d.node
	first := out[n.From[0]]
	for i, f := range n.From[1:] {
		if st := out[f]; !st.equal(first) {
			s.errorf(n.FromRanges[i+1].Ptr(), "Aggregate joins paths from different splits",
				"%s joins %s, %s, with %s, %s. Items of a split meet only in its gather: gather each split before the aggregate, so that its inputs come from the same place.",
				n.Addr(), n.From[0].Addr(), first.describe(), f.Addr(), st.describe())
			return splitStack{bad: true}
		}
	}
	if len(first.open) > 0 {
		s.errorf(d.attrs["from"].Expr.Range().Ptr(), "Aggregate inside a split",
			"%s is %s, where every item of a run travels alone: a join there would mix the items of one run. Join before %s or after its gather.",
			n.Addr(), first.describe(), first.top().Addr())
		return splitStack{bad: true}
	}
	return first
}

// checkMergeSplits checks that a merge's inputs all come from the same
// place: a merge inside a split passes each item on alone, but a path
// from outside the split would enter it, and one from inside another
// split would leave its own.
func (s *state) checkMergeSplits(d *nodeDecl, out map[*Node]splitStack) splitStack {
	n := d.node
	first := out[n.From[0]]
	for i, f := range n.From[1:] {
		if st := out[f]; !st.equal(first) {
			s.errorf(n.FromRanges[i+1].Ptr(), "Merge joins paths from different splits",
				"%s merges %s, %s, with %s, %s. A split's region is closed: its items leave it only through its gather. Merge paths of the same place: gather each split before the merge, or merge inside the split.",
				n.Addr(), n.From[0].Addr(), first.describe(), f.Addr(), st.describe())
			return splitStack{bad: true}
		}
	}
	return first
}

// checkGatherSplit checks that a gather closes the innermost open split
// on its path and returns its stack, that split popped.
func (s *state) checkGatherSplit(d *nodeDecl, in splitStack, out map[*Node]splitStack) splitStack {
	n := d.node
	over := n.Over
	switch {
	case over == nil:
		return splitStack{bad: true} // reported by linkOver or buildGather
	case in.top() == over:
		return splitStack{open: in.open[:len(in.open)-1]}
	case in.holds(over):
		s.errorf(n.OverRange.Ptr(), "Gather does not close the innermost split",
			"%s closes %s, but the innermost open split on its path is %s (%s): close %s first, with a gather over it before %s.",
			n.Addr(), over.Addr(), in.top().Addr(), s.splitPath(in.top(), n, out), in.top().Addr(), n.Addr())
	default:
		where := "its input is " + in.describe()
		if len(in.open) > 0 {
			where = "the innermost open split on its path is " + in.top().Addr()
		}
		s.errorf(n.OverRange.Ptr(), "Gather over a split not on its path",
			"%s closes %s, but no path into %s comes out of %s (%s). A gather closes the innermost split its input comes from: name that split in over, or feed %s from the nodes after %s.",
			n.Addr(), over.Addr(), n.Addr(), over.Addr(), where, n.Addr(), over.Addr())
	}
	return splitStack{bad: true}
}

// reportUngathered reports a node where a path ends inside a split: a
// terminate, or a node that feeds nothing.
func (s *state) reportUngathered(d *nodeDecl, st splitStack, out map[*Node]splitStack, gatherOf map[*Node]*Node) {
	n, split := d.node, st.top()
	gather := fmt.Sprintf("a gather with over = %s", split.Addr())
	if g := gatherOf[split]; g != nil {
		gather = fmt.Sprintf("%s, which closes %s,", g.Addr(), split.Addr())
	}
	const rule = "Every path out of a split must reach the gather that closes it"
	switch {
	case n == split:
		s.errorf(d.nameRange.Ptr(), "Split never gathered",
			"%s feeds nothing, so its items would go nowhere. %s: feed %s into %s.",
			split.Addr(), rule, split.Addr(), strings.TrimSuffix(gather, ","))
	case n.Kind == KindTerminate:
		subject := d.nameRange.Ptr()
		if len(n.FromRanges) > 0 {
			subject = n.FromRanges[0].Ptr()
		}
		s.errorf(subject, "Split never gathered",
			"%s is %s (%s), so its results would be single items, never gathered. %s: lead the path through %s before %s.",
			n.Addr(), st.describe(), s.splitPath(split, n, out), rule, strings.TrimSuffix(gather, ","), n.Addr())
	default:
		s.errorf(d.nameRange.Ptr(), "Split never gathered",
			"%s is %s (%s) and feeds nothing, so its items never reach a gather. %s: feed %s into %s.",
			n.Addr(), st.describe(), s.splitPath(split, n, out), rule, n.Addr(), strings.TrimSuffix(gather, ","))
	}
}

// splitPath returns the path from split to n, a node inside it, as
// "split.a → process.b → n", following at each step back the first input
// that is inside split.
func (s *state) splitPath(split, n *Node, out map[*Node]splitStack) string {
	path := []string{n.Addr()}
	for cur := n; cur != split; {
		next := (*Node)(nil)
		for _, f := range cur.From {
			if f == split || out[f].holds(split) {
				next = f
				break
			}
		}
		if next == nil {
			break
		}
		path = append(path, next.Addr())
		cur = next
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return strings.Join(path, " → ")
}
