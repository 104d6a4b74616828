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
		if r.target == nil {
			return // an unresolved from is reported; what feeds d is unknown
		}
		if r.target.kind == KindRoute && route == nil {
			route = r
		}
	}
	if len(d.from) == 0 {
		return // a missing or invalid from is reported
	}
	n := d.node
	_, hasWhen := d.attrs["when"]
	switch {
	case route == nil && hasWhen:
		what := d.from[0].target.addr() + ", not a route"
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
	KindRoute:     "a path does the work of its label, and a route there would only choose again",
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
// the paths leading to it: its condition, a set of alternatives, each the
// label some routes took (a run meets the condition when it meets one
// alternative). A start's condition is the one empty alternative (every
// run); a path of route R adds R's label to each alternative of R's; a
// merge takes the alternatives of all its inputs; a gather has its
// split's condition (the routes inside the split chose per item). Two
// conditions are compared by trying every choice of the routes they name.

// alt is one alternative of a condition: the label each route took.
type alt map[*Node]string

// cond is a node's condition. unknown marks one too large to follow: the
// checks below it are skipped.
type cond struct {
	alts    []alt
	unknown bool
}

// Bounds on the work of the choice checks, far above any real graph.
const (
	maxAlts    = 256
	maxChoices = 4096
)

func (a alt) key() string {
	parts := make([]string, 0, len(a))
	for r, l := range a {
		parts = append(parts, r.Addr()+"="+l)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// covers reports whether every run that meets b meets a: a is a subset of b.
func (a alt) covers(b alt) bool {
	for r, l := range a {
		if b[r] != l {
			return false
		}
	}
	return true
}

// describe says which runs meet a, for diagnostics.
func (a alt) describe() string {
	if len(a) == 0 {
		return "on every run"
	}
	rs := make([]*Node, 0, len(a))
	for r := range a {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Addr() < rs[j].Addr() })
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Addr() + " takes " + pathName(a[r])
	}
	return "when " + strings.Join(parts, " and ")
}

// pathName names the path of a label, for diagnostics.
func pathName(label string) string {
	if label == WhenDefault {
		return "its default path"
	}
	return fmt.Sprintf("the path %q", label)
}

// routeLabels returns the labels of r's paths, sorted.
func routeLabels(r *Node) []string {
	var ls []string
	for _, p := range r.To {
		if p.When != "" {
			ls = append(ls, p.When)
		}
	}
	sort.Strings(ls)
	return ls
}

// path returns the condition of the path with label of route r, whose
// condition is c.
func (c cond) path(r *Node, label string) cond {
	out := cond{unknown: c.unknown}
	for _, a := range c.alts {
		b := alt{r: label}
		for k, v := range a {
			b[k] = v
		}
		out.alts = append(out.alts, b)
	}
	return out.simplify()
}

// merge returns the condition of a node reached through any of cs.
func merge(cs ...cond) cond {
	var out cond
	for _, c := range cs {
		out.unknown = out.unknown || c.unknown
		out.alts = append(out.alts, c.alts...)
	}
	return out.simplify()
}

// simplify removes duplicate alternatives and those another covers, and
// replaces the alternatives that differ only in taking every path of one
// route by the one without that route, until nothing changes.
func (c cond) simplify() cond {
	if c.unknown {
		return cond{unknown: true}
	}
	alts := c.alts
	for changed := true; changed; {
		changed = false
		byKey := map[string]bool{}
		var kept []alt
		for i, a := range alts {
			covered := false
			for j, b := range alts {
				if i != j && b.covers(a) && (len(b) < len(a) || j < i) {
					covered = true
					break
				}
			}
			if !covered && !byKey[a.key()] {
				byKey[a.key()] = true
				kept = append(kept, a)
			}
		}
		changed = len(kept) != len(alts)
		alts = kept
		for _, a := range alts {
			for r := range a {
				rest := alt{}
				for k, v := range a {
					if k != r {
						rest[k] = v
					}
				}
				all := true
				for _, l := range routeLabels(r) {
					b := alt{r: l}
					for k, v := range rest {
						b[k] = v
					}
					if !byKey[b.key()] {
						all = false
						break
					}
				}
				if all && !byKey[rest.key()] {
					alts = append(alts, rest)
					byKey[rest.key()] = true
					changed = true
				}
			}
		}
		if len(alts) > maxAlts {
			return cond{unknown: true}
		}
	}
	sort.Slice(alts, func(i, j int) bool { return alts[i].key() < alts[j].key() })
	return cond{alts: alts}
}

// holds reports whether a run whose routes chose run meets c.
func (c cond) holds(run alt) bool {
	for _, a := range c.alts {
		if a.covers(run) {
			return true
		}
	}
	return false
}

// describe says which runs meet c, for diagnostics.
func (c cond) describe() string {
	parts := make([]string, len(c.alts))
	for i, a := range c.alts {
		parts[i] = a.describe()
	}
	return strings.Join(parts, ", or ")
}

// routes returns the routes c names, by address.
func (c cond) routes(seen map[*Node]bool) []*Node {
	var rs []*Node
	for _, a := range c.alts {
		for r := range a {
			if !seen[r] {
				seen[r] = true
				rs = append(rs, r)
			}
		}
	}
	return rs
}

// compare tries every choice of the routes a and b name and returns
// whether some run meets both, and a run that meets one but not the other
// (nil when there is none, or when there are too many choices to try).
func compare(a, b cond) (together bool, apart alt) {
	seen := map[*Node]bool{}
	rs := append(a.routes(seen), b.routes(seen)...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Addr() < rs[j].Addr() })
	total := 1
	for _, r := range rs {
		total *= max(len(routeLabels(r)), 1)
		if total > maxChoices {
			return true, nil
		}
	}
	run := alt{}
	var try func(i int)
	try = func(i int) {
		if i == len(rs) {
			ha, hb := a.holds(run), b.holds(run)
			together = together || (ha && hb)
			if ha != hb && apart == nil {
				apart = alt{}
				for k, v := range run {
					apart[k] = v
				}
			}
			return
		}
		for _, l := range routeLabels(rs[i]) {
			run[rs[i]] = l
			try(i + 1)
		}
		delete(run, rs[i])
	}
	try(0)
	return together, apart
}

// checkRouteChoices computes every node's condition in topological order
// and reports an aggregate whose inputs a run does not always reach
// together. It needs an acyclic graph.
func (s *state) checkRouteChoices(nodes []*nodeDecl, order []*Node) {
	decl := map[*Node]*nodeDecl{}
	for _, d := range nodes {
		decl[d.node] = d
	}
	every := cond{alts: []alt{{}}}
	out := map[*Node]cond{}
	for _, n := range order {
		d := decl[n]
		if d == nil {
			continue
		}
		switch {
		case len(n.From) == 0:
			out[n] = every
		case n.Kind == KindGather && n.Over != nil:
			out[n] = out[n.Over]
		case n.Kind == KindAggregate:
			s.checkAggregateChoices(d, out)
			out[n] = out[n.From[0]]
		case len(n.From) > 1:
			cs := make([]cond, len(n.From))
			for i, f := range n.From {
				cs[i] = out[f]
			}
			out[n] = merge(cs...)
		case n.From[0].Kind == KindRoute && n.When != "":
			out[n] = out[n.From[0]].path(n.From[0], n.When)
		default:
			out[n] = out[n.From[0]]
		}
	}
}

// checkAggregateChoices reports an aggregate two of whose inputs a run
// does not always reach together: never (it would wait forever), or not
// on every run (it would wait, on the runs that reach one, until its
// timeout).
func (s *state) checkAggregateChoices(d *nodeDecl, out map[*Node]cond) {
	n := d.node
	for i, a := range n.From {
		for j := i + 1; j < len(n.From); j++ {
			b := n.From[j]
			ca, cb := out[a], out[b]
			if ca.unknown || cb.unknown {
				continue
			}
			together, apart := compare(ca, cb)
			if !together {
				s.errorf(n.FromRanges[j].Ptr(), "Aggregate joins paths a run never takes together",
					"%s runs %s; %s runs %s. No run reaches both, so %s would wait forever for the part of the other. Merge the paths with a process with from = [%s, %s] instead of joining them.",
					a.Addr(), ca.describe(), b.Addr(), cb.describe(), n.Addr(), a.Addr(), b.Addr())
				return
			}
			if apart != nil {
				has, lacks := a, b
				if !ca.holds(apart) {
					has, lacks = b, a
				}
				routes := make([]string, 0, len(apart))
				for r := range apart {
					routes = append(routes, r.Addr())
				}
				sort.Strings(routes)
				s.errorf(n.FromRanges[j].Ptr(), "Aggregate joins a path a run may not take",
					"A run reaches %s but not %s %s, so %s would wait for the part of %s until its timeout. Join before %s, or merge every path of it before the aggregate.",
					has.Addr(), lacks.Addr(), apart.describe(), n.Addr(), lacks.Addr(), strings.Join(routes, " and "))
				return
			}
		}
	}
}
