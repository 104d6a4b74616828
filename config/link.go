package config

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The from references: read from the syntax without evaluating it, resolved
// to the nodes they name, then the nodes put in topological order.

// decodeFrom reads a node's from attribute as references, without
// evaluating it: a single KIND.NAME, or a list of them for an aggregate (a
// join) and for a process or terminate (a merge, route.go).
func (s *state) decodeFrom(d *nodeDecl, attr *hcl.Attribute) {
	if d.kind == KindAggregate {
		s.decodeFromList(d, attr, joinList)
		return
	}
	if _, isList := attr.Expr.(*hclsyntax.TupleConsExpr); isList {
		if mergeKinds[d.kind] {
			s.decodeFromList(d, attr, mergeList)
			return
		}
		s.errorf(attr.Expr.Range().Ptr(), "Invalid from",
			"A %s has one input, so its from is a single node reference, such as from = process.double; only an aggregate (a join) and a process or terminate (a merge of paths) take a list.", d.kind)
		return
	}
	if r := s.decodeRef(d, attr.Expr); r != nil {
		d.from = append(d.from, r)
	}
}

// fromList tells what a list in from means, for diagnostics: a join of
// one message from each input, or a merge of paths.
type fromList struct {
	what, duplicate, tooFew, why, single string
}

var (
	joinList = fromList{
		what:      "aggregate",
		duplicate: "Duplicate aggregate input",
		tooFew:    "Too few aggregate inputs",
		why:       "an aggregate joins one message from each of its inputs",
		single:    "an aggregate joins one message from each of two or more nodes. Add inputs to from, or use a process for a single input",
	}
	mergeList = fromList{
		what:      "merge",
		duplicate: "Duplicate merge input",
		tooFew:    "Too few merge inputs",
		why:       "a merge lists each path that continues here once",
		single:    "a list in from merges the paths of two or more nodes. Write the single input without brackets, such as from = process.double, or add the other paths to the list",
	}
)

// decodeFromList reads a from attribute that is a list of references: an
// aggregate's inputs or a merge's.
func (s *state) decodeFromList(d *nodeDecl, attr *hcl.Attribute, l fromList) {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		s.errorf(attr.Expr.Range().Ptr(), "Invalid from",
			"%s joins several inputs, so its from is a list of node references, such as from = [process.a, process.b].", d.addr())
		return
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		r := s.decodeRef(d, e)
		if r == nil {
			continue
		}
		if seen[r.addr()] {
			s.errorf(r.rng.Ptr(), l.duplicate,
				"%s is already an input of %s; %s. Remove the duplicate.", r.addr(), d.addr(), l.why)
			continue
		}
		seen[r.addr()] = true
		d.from = append(d.from, r)
	}
	if len(exprs) < 2 {
		s.errorf(attr.Expr.Range().Ptr(), l.tooFew,
			"%s has %s; %s.", d.addr(), Plural(len(exprs), "input"), l.single)
	}
}

// decodeRef reads one node reference, KIND.NAME, from an expression.
func (s *state) decodeRef(d *nodeDecl, expr hcl.Expression) *fromRef {
	rng := expr.Range()
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		hint := "as a reference such as process.double"
		if len(expr.Variables()) == 0 {
			if v, vDiags := s.evaluate(expr, nil); !vDiags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				hint = fmt.Sprintf("without quotes: from = %s", v.AsString())
			}
		}
		s.errorf(&rng, "Invalid from reference",
			"from names a node with a reference, KIND.NAME, not a string or an expression. Write it %s.", hint)
		return nil
	}
	root := t.RootName()
	if !isKind(root) {
		kinds := make([]string, len(Kinds))
		for i, k := range Kinds {
			kinds[i] = string(k)
		}
		detail := fmt.Sprintf("%q is not a node kind%s. A from reference is KIND.NAME, where KIND is one of %s.", root, suggestSuffix(root, kinds), strings.Join(kinds, ", "))
		if root == "var" || root == "local" {
			detail = "from must name a node directly; it cannot come from a variable or a local value. Write a reference such as process.double."
		}
		s.errorf(&rng, "Invalid from reference", "%s", detail)
		return nil
	}
	var name string
	if len(t) == 2 {
		if a, ok := t[1].(hcl.TraverseAttr); ok {
			name = a.Name
		}
	}
	if name == "" {
		s.errorf(&rng, "Invalid from reference",
			"A from reference is KIND.NAME, such as %s.double, with nothing after the name.", root)
		return nil
	}
	return &fromRef{kind: Kind(root), name: name, rng: t.SourceRange()}
}

// link resolves from references to nodes and fills From and To.
func (s *state) link(nodes []*nodeDecl) {
	byAddr := map[string]*nodeDecl{}
	var addrs []string
	for _, d := range nodes {
		byAddr[d.addr()] = d
		addrs = append(addrs, d.addr())
	}
	dupAddrs := map[string]bool{}
	byName := map[string]*nodeDecl{}
	for _, d := range s.nodes {
		if d.dup {
			dupAddrs[d.addr()] = true
		} else {
			byName[d.name] = d
		}
	}
	for _, d := range nodes {
		for _, r := range d.from {
			t := byAddr[r.addr()]
			if t == nil {
				if dupAddrs[r.addr()] {
					continue // the duplicate is reported; don't pile on
				}
				hint := ""
				if same := byName[r.name]; same != nil {
					hint = fmt.Sprintf(" (did you mean %s?)", same.addr())
				} else {
					hint = suggestSuffix(r.addr(), addrs)
				}
				s.errorf(r.rng.Ptr(), "Reference to undeclared node",
					"There is no node %s%s. Declare it, or fix the reference.", r.addr(), hint)
				continue
			}
			if t.kind == KindTerminate {
				s.errorf(r.rng.Ptr(), "Reference to a terminate node",
					"%s has no output: a terminate is the graph's exit, and its queue holds the results. Take the input from a node that feeds %s, or make %s a process.",
					t.addr(), t.addr(), t.addr())
				continue
			}
			r.target = t
			d.node.From = append(d.node.From, t.node)
			d.node.FromRanges = append(d.node.FromRanges, r.rng)
			t.node.To = append(t.node.To, d.node)
			t.consumers = append(t.consumers, &fromRef{kind: d.kind, name: d.name, rng: r.rng, target: d})
		}
	}
	for _, d := range nodes {
		sort.Slice(d.node.To, func(i, j int) bool { return d.node.To[i].Addr() < d.node.To[j].Addr() })
	}
}

// consumers returns the references to d in other nodes' from, each with
// the consuming node as target, in source order.
func consumers(d *nodeDecl) []*fromRef {
	refs := append([]*fromRef(nil), d.consumers...)
	sortByRange(refs, func(r *fromRef) hcl.Range { return r.rng })
	return refs
}

// sortNodes returns the nodes in topological order, ties broken by
// address, and reports every cycle with its path. acyclic is false when
// there was a cycle; the order then holds every node but is not
// topological.
func (s *state) sortNodes(nodes []*nodeDecl) (order []*Node, acyclic bool) {
	sorted := append([]*nodeDecl(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].addr() < sorted[j].addr() })
	acyclic = s.reportCycles(sorted)
	return topoOrder(sorted), acyclic
}

// reportCycles walks the data flow depth-first from each node of sorted, in
// that order, reports every cycle with its path and returns whether there
// was none: an edge back into the current path closes a cycle.
func (s *state) reportCycles(sorted []*nodeDecl) (acyclic bool) {
	byNode := map[*Node]*nodeDecl{}
	for _, d := range sorted {
		byNode[d.node] = d
	}
	const (
		unvisited = iota
		visiting
		done
	)
	mark := map[*Node]int{}
	var stack []*Node
	acyclic = true
	var visit func(n *Node)
	visit = func(n *Node) {
		mark[n] = visiting
		stack = append(stack, n)
		for _, c := range n.To {
			switch mark[c] {
			case unvisited:
				visit(c)
			case visiting:
				acyclic = false
				s.reportCycle(stack, n, c, byNode[c])
			}
		}
		stack = stack[:len(stack)-1]
		mark[n] = done
	}
	for _, d := range sorted {
		if mark[d.node] == unvisited {
			visit(d.node)
		}
	}
	return acyclic
}

// reportCycle reports the cycle that the edge from n back to c, a node of
// the current path stack, closes; cd is c's declaration, whose from
// reference to n is the subject.
func (s *state) reportCycle(stack []*Node, n, c *Node, cd *nodeDecl) {
	i := 0
	for stack[i] != c {
		i++
	}
	path := make([]string, 0, len(stack)-i+1)
	for _, m := range stack[i:] {
		path = append(path, m.Addr())
	}
	path = append(path, c.Addr())
	var subject *hcl.Range
	for _, r := range cd.from {
		if r.target != nil && r.target.node == n {
			subject = r.rng.Ptr()
			break
		}
	}
	s.errorf(subject, "Cycle in graph",
		"Messages would flow in a loop: %s. A graph must be acyclic: change one of these from references.", strings.Join(path, " → "))
}

// topoOrder orders the nodes of sorted (sorted by address) with Kahn's
// algorithm, always taking the smallest ready address. After a cycle it
// places the nodes left over by address, so every node appears.
func topoOrder(sorted []*nodeDecl) (order []*Node) {
	indeg := map[*Node]int{}
	ready := &nodeHeap{}
	for _, d := range sorted {
		indeg[d.node] = len(d.node.From)
		if indeg[d.node] == 0 {
			heap.Push(ready, d.node)
		}
	}
	placed := map[*Node]bool{}
	for ready.Len() > 0 {
		next := heap.Pop(ready).(*Node)
		placed[next] = true
		order = append(order, next)
		for _, c := range next.To {
			indeg[c]--
			if indeg[c] == 0 {
				heap.Push(ready, c)
			}
		}
	}
	if len(order) < len(sorted) {
		for _, d := range sorted {
			if !placed[d.node] {
				order = append(order, d.node)
			}
		}
	}
	return order
}

// nodeHeap is a min-heap of nodes by address.
type nodeHeap []*Node

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].Addr() < h[j].Addr() }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(*Node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}
