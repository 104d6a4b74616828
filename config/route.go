package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Route and merge: a route's handler names a label, and the message goes
// down the one path whose when is that label (or the default path, when =
// "*"); a process or terminate whose from lists several nodes merges
// paths, each message passing on alone.

// mergeKinds are the kinds whose from may list several nodes to merge
// their paths.
var mergeKinds = map[Kind]bool{KindProcess: true, KindTerminate: true}

// whenKinds are the kinds a route can feed, and so the kinds that take a
// when. An aggregate cannot be one path of a route: it would wait for
// parts from the paths a run did not take.
var whenKinds = map[Kind]bool{KindProcess: true, KindFanOut: true, KindPoll: true, KindSplit: true, KindTerminate: true}

// buildWhen reads the label of the route's path a node is: a string, "*"
// for the route's default path. Whether the node is fed by a route at all
// is checked once the graph is linked (checkRoutes).
func (s *state) buildWhen(d *nodeDecl, n *Node) {
	attr, ok := d.attrs["when"]
	if !ok {
		return
	}
	n.WhenRange = attr.Expr.Range()
	if v, ok := s.evalChecked(attr, "when", "Invalid when", whenProblem); ok {
		n.When = v
	}
}

// whenProblem describes what is wrong with a when label, or returns "".
func whenProblem(v string) string {
	if v == "" {
		return `when names the label of the route's path this node is, the string the route's handler returns to send a message here; it cannot be empty. Write the label, such as when = "invoice", or when = "*" for the route's default path.`
	}
	return ""
}

// isMerge reports whether d's from is a list of nodes whose paths merge.
func isMerge(d *nodeDecl) bool {
	if !mergeKinds[d.kind] {
		return false
	}
	attr := d.attrs["from"]
	if attr == nil {
		return false
	}
	_, list := attr.Expr.(*hclsyntax.TupleConsExpr)
	return list
}

// checkRoutes checks each node's when against what feeds it, each route's
// paths and each merge's inputs. It needs the nodes linked, not acyclic.
func (s *state) checkRoutes(nodes []*nodeDecl) {
	for _, d := range nodes {
		s.checkWhen(d)
		if d.kind == KindRoute {
			s.checkPaths(d)
		}
		if isMerge(d) {
			s.checkMergeMessages(d)
		}
	}
}

// checkWhen checks that a node fed by a route is one of its paths (a kind
// that can be, with a when and no other input) and that a node with a when
// is fed by a route.
func (s *state) checkWhen(d *nodeDecl) {
	var route *fromRef
	for _, r := range d.from {
		if r.target != nil && r.target.kind == KindRoute {
			route = r
			break
		}
	}
	n := d.node
	_, hasWhen := d.attrs["when"]
	switch {
	case route == nil && hasWhen:
		what := "no route"
		if len(d.from) > 0 && d.from[0].target != nil {
			what = d.from[0].target.addr() + ", not a route"
		}
		s.errorf(n.WhenRange.Ptr(), "Unexpected when",
			"%s is fed by %s; when names the label of a route's path, and only a node whose from is a route takes one. Remove the when, or feed %s from the route whose path it is.",
			d.addr(), what, d.addr())
	case route == nil:
	case !whenKinds[d.kind]:
		s.errorf(route.rng.Ptr(), "Invalid route path",
			"%s cannot be a path of %s: %s. Put a process with a when between %s and %s.",
			d.addr(), route.target.addr(), notPathReason[d.kind], route.target.addr(), d.addr())
	case len(d.from) > 1:
		s.errorf(d.attrs["from"].Expr.Range().Ptr(), "Route path with other inputs",
			"%s is a path of %s, so %s is its only input: a path is the one node a run's message goes to when the route's handler returns its label. Write from = %s, and merge with the other nodes after the path, in a process with from = [...].",
			d.addr(), route.target.addr(), route.target.addr(), route.target.addr())
	case !hasWhen:
		s.missing(d, "a when", fmt.Sprintf("it is a path of %s, so it names the label that sends a message down it, such as when = %q, or when = %q for the route's default path (every label no other path takes).", route.target.addr(), d.name, WhenDefault))
	}
}

// notPathReason says why a kind cannot be a path of a route.
var notPathReason = map[Kind]string{
	KindAggregate: "a run takes one path of a route, so an aggregate there would wait forever for the parts of the paths not taken",
	KindGather:    "a gather closes a split, and the items that took the route's other paths would never reach it; merge the paths before the gather",
	KindRoute:     "a route's paths take when, which a route does not",
}

// checkPaths checks a route's paths: at least one, labels distinct, at
// most one default. Each duplicate is reported at its when, after the
// first in source order.
func (s *state) checkPaths(d *nodeDecl) {
	paths := consumers(d)
	if len(paths) == 0 {
		s.errorf(d.nameRange.Ptr(), "Route with no path",
			"No node names %s in its from, so every message would be parked. Add a path for each label its handler returns: a node with from = %s and when = \"label\" (when = %q takes every label no other path takes).",
			d.addr(), d.addr(), WhenDefault)
		return
	}
	first := map[string]*nodeDecl{}
	for _, r := range paths {
		p := r.target
		if p.node.When == "" || len(p.from) != 1 || !whenKinds[p.kind] {
			continue // reported by checkWhen or buildWhen
		}
		when := p.node.When
		prev, dup := first[when]
		switch {
		case !dup:
			first[when] = p
		case when == WhenDefault:
			s.errorf(p.node.WhenRange.Ptr(), "Duplicate default path",
				"%s is already the default path of %s (%s); a route has at most one, which takes every label no other path takes. Give %s a label of its own, such as when = %q.",
				prev.addr(), d.addr(), prev.node.WhenRange, p.addr(), p.name)
		default:
			s.errorf(p.node.WhenRange.Ptr(), "Duplicate route label",
				"%s already takes the label %q of %s (%s); a run's message goes down exactly one path. Give %s another label, or merge the two: one path, then a fan_out if both must run.",
				prev.addr(), when, d.addr(), prev.node.WhenRange, p.addr())
		}
	}
}

// checkMergeMessages checks that a merge's inputs emit its message type.
// Any node but a fan_out emits what its consumer declares; a fan_out
// copies its input, so its type can differ.
func (s *state) checkMergeMessages(d *nodeDecl) {
	n := d.node
	if n.Edge == nil || n.Edge.Message == "" {
		return
	}
	for i, in := range n.From {
		t := carried(in, n)
		if t == "" || t == n.Edge.Message {
			continue
		}
		s.errorf(n.FromRanges[i].Ptr(), "Merge inputs carry different types",
			"%s carries %s (a fan_out copies its input), but %s declares message = %q, which its other inputs emit. A merge passes each message on alone, so every input must emit its type: make the message types agree, or feed the merge from a node that emits %s.",
			in.Addr(), t, n.Addr(), n.Edge.Message, n.Edge.Message)
	}
}

// The route choices. Each node runs only on the runs whose routes chose
// the paths leading to it: a node fed by path L of route R has R ∈ {L}
// added to its input's choices; a merge keeps, for a route every input
// chose on, the union of their labels, and drops the others; a route
// whose every path is allowed is dropped, as it chooses nothing. A gather
// has its split's choices: the routes inside the split chose per item.

// choices maps each route a node depends on to the labels that lead to it.
type choices map[*Node]map[string]bool

// with returns c with route r restricted to labels (the default path's
// being "*"), dropped when labels holds every path of r.
func (c choices) with(r *Node, labels map[string]bool) choices {
	out := choices{}
	for k, v := range c {
		out[k] = v
	}
	if labels == nil {
		return out
	}
	if prev, ok := out[r]; ok {
		both := map[string]bool{}
		for l := range labels {
			if prev[l] {
				both[l] = true
			}
		}
		labels = both
	}
	all := true
	for _, p := range r.To {
		if p.When != "" && !labels[p.When] {
			all = false
		}
	}
	if all {
		delete(out, r)
	} else {
		out[r] = labels
	}
	return out
}

// describe says which labels of route r lead to a node, for diagnostics.
func (c choices) describe(r *Node) string {
	labels := c[r]
	if labels == nil {
		return "on every path of " + r.Addr()
	}
	list := make([]string, 0, len(labels))
	for l := range labels {
		if l == WhenDefault {
			list = append(list, "the default path")
		} else {
			list = append(list, fmt.Sprintf("the path %q", l))
		}
	}
	sort.Strings(list)
	return fmt.Sprintf("only on %s of %s", strings.Join(list, " or "), r.Addr())
}

// checkRouteChoices computes every node's choices in topological order and
// reports an aggregate whose inputs a run does not always take together.
// It needs an acyclic graph.
func (s *state) checkRouteChoices(nodes []*nodeDecl, order []*Node) {
	decl := map[*Node]*nodeDecl{}
	for _, d := range nodes {
		decl[d.node] = d
	}
	out := map[*Node]choices{}
	for _, n := range order {
		d := decl[n]
		if d == nil {
			continue
		}
		switch {
		case len(n.From) == 0:
			out[n] = choices{}
		case n.Kind == KindGather && n.Over != nil:
			out[n] = out[n.Over]
		case n.Kind == KindAggregate:
			s.checkAggregateChoices(d, out)
			out[n] = out[n.From[0]]
		case len(n.From) > 1:
			out[n] = merged(n, out)
		case n.From[0].Kind == KindRoute && n.When != "":
			out[n] = out[n.From[0]].with(n.From[0], map[string]bool{n.When: true})
		default:
			out[n] = out[n.From[0]]
		}
	}
}

// merged returns a merge's choices: for each route every input chose on,
// the union of the inputs' labels.
func merged(n *Node, out map[*Node]choices) choices {
	c := choices{}
	first := out[n.From[0]]
	for r, labels := range first {
		union := map[string]bool{}
		for l := range labels {
			union[l] = true
		}
		common := true
		for _, in := range n.From[1:] {
			other, ok := out[in][r]
			if !ok {
				common = false
				break
			}
			for l := range other {
				union[l] = true
			}
		}
		if common {
			c = c.with(r, union)
		}
	}
	return c
}

// checkAggregateChoices reports an aggregate two of whose inputs a run
// does not always take together: different paths of one route (it would
// wait forever), or a path of a route and a node every run reaches (it
// would wait, on the runs that took another path, until its timeout).
func (s *state) checkAggregateChoices(d *nodeDecl, out map[*Node]choices) {
	n := d.node
	for i, a := range n.From {
		for j := i + 1; j < len(n.From); j++ {
			b := n.From[j]
			if r, ok := disjoint(out[a], out[b]); ok {
				s.errorf(n.FromRanges[j].Ptr(), "Aggregate joins paths a run never takes together",
					"%s comes %s and %s %s: a run takes one path of %s, so %s would wait forever for the part of the other. Merge the paths with a process with from = [%s, %s] instead of joining them.",
					a.Addr(), out[a].describe(r), b.Addr(), out[b].describe(r), r.Addr(), n.Addr(), a.Addr(), b.Addr())
				return
			}
			if r, ok := uneven(out[a], out[b]); ok {
				s.errorf(n.FromRanges[j].Ptr(), "Aggregate joins a path a run may not take",
					"%s comes %s and %s %s: a run that takes another path of %s sends only one of the two parts, and %s would wait for the other until its timeout. Join before %s, or merge its paths before the aggregate.",
					a.Addr(), out[a].describe(r), b.Addr(), out[b].describe(r), r.Addr(), n.Addr(), r.Addr())
				return
			}
		}
	}
}

// disjoint returns a route for which a and b allow no common label.
func disjoint(a, b choices) (*Node, bool) {
	for _, r := range sortedRoutes(a) {
		lb, ok := b[r]
		if !ok {
			continue
		}
		common := false
		for l := range a[r] {
			common = common || lb[l]
		}
		if !common {
			return r, true
		}
	}
	return nil, false
}

// uneven returns a route on which a and b depend differently.
func uneven(a, b choices) (*Node, bool) {
	for _, c := range [][2]choices{{a, b}, {b, a}} {
		for _, r := range sortedRoutes(c[0]) {
			other, ok := c[1][r]
			if !ok || len(other) != len(c[0][r]) {
				return r, true
			}
			for l := range other {
				if !c[0][r][l] {
					return r, true
				}
			}
		}
	}
	return nil, false
}

// sortedRoutes returns c's routes by address, for stable diagnostics.
func sortedRoutes(c choices) []*Node {
	rs := make([]*Node, 0, len(c))
	for r := range c {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Addr() < rs[j].Addr() })
	return rs
}
