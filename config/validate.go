package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The checks of the linked graph as a whole: every node's outputs, a start
// and a terminate, the message types along each edge, the starts behind each
// aggregate, distinct queues and distinct exchanges.

// checkOutputs reports nodes that feed nothing, a node other than a
// fan_out or a route feeding several nodes, and warns of a fan_out with a
// single output.
func (s *state) checkOutputs(nodes []*nodeDecl) {
	for _, d := range nodes {
		if d.kind == KindTerminate || d.kind == KindRoute {
			continue // a route's paths are checked in route.go
		}
		refs := consumers(d)
		switch {
		case len(refs) == 0:
			s.errorf(d.nameRange.Ptr(), "Node feeds nothing",
				"No node names %s in its from, so its output would go nowhere. Add a node with from = %s (a terminate, if this is the end of the graph), or remove %s.",
				d.addr(), d.addr(), d.addr())
		case d.kind == KindFanOut && len(refs) == 1:
			s.diags = append(s.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "fan_out with one output",
				Detail:   fmt.Sprintf("%s feeds only %s, so it copies nothing. Use a process, or connect more nodes.", d.addr(), refs[0].addr()),
				Subject:  d.nameRange.Ptr(),
			})
		case d.kind != KindFanOut && len(refs) > 1:
			for _, r := range refs[1:] {
				s.errorf(r.rng.Ptr(), "Too many outputs",
					"%s already feeds %s; a %s feeds exactly one node. Put a fan_out after %s to copy its messages to several nodes.",
					d.addr(), refs[0].addr(), d.kind, d.addr())
			}
		}
	}
}

// checkStartAndTerminate reports a graph without a start or a terminate
// node.
func (s *state) checkStartAndTerminate(g *Graph, nodes []*nodeDecl) {
	var hasStart, hasTerminate bool
	for _, d := range nodes {
		hasStart = hasStart || d.kind == KindStart
		hasTerminate = hasTerminate || d.kind == KindTerminate
	}
	subject := s.firstRange
	if s.graph != nil {
		subject = s.graph.declRange.Ptr()
	}
	if !hasStart && !s.seen[string(KindStart)] {
		s.errorf(subject, "Missing start node",
			"A graph needs a start node, where runs enter. Add one, such as start \"start\" {}, and a node with from = start.start.")
	}
	if !hasTerminate && !s.seen[string(KindTerminate)] {
		s.errorf(subject, "Missing terminate node",
			"A graph needs a terminate node, where results leave. Add one, such as terminate \"result\" { from = process.last  queue = \"result\"  message = \"Result\" }.")
	}
}

// carried returns the message type node in sends to consumer c: a fan_out
// or a route carries its own input's type; any other node emits what c
// declares for it.
func carried(in *Node, c *Node) string {
	if in.Kind == KindFanOut || in.Kind == KindRoute {
		return in.Edge.Message
	}
	return c.InputFrom(in)
}

// checkMessages reports message types that disagree along an edge: a
// fan_out's or a route's consumers and an aggregate's inputs, and an aggregate's list of
// part types that does not match its from list.
func (s *state) checkMessages(nodes []*nodeDecl) {
	for _, d := range nodes {
		n := d.node
		if n.Edge == nil || n.Edge.Message == "" {
			continue
		}
		switch n.Kind {
		case KindFanOut, KindRoute:
			for _, c := range n.To {
				if len(c.From) > 1 || c.Edge.Message == "" || c.Edge.Message == n.Edge.Message {
					continue // an aggregate's inputs are checked below, a merge's in route.go
				}
				verb := "copies its input, of type %s, to %s"
				if n.Kind == KindRoute {
					verb = "passes its input, of type %s, unchanged down the path %s"
				}
				s.errorf(c.Edge.MessageRange.Ptr(), "Message type mismatch",
					"%s "+verb+", which declares message = %q. Set message = %q on %s, or feed it from a node that emits %s.",
					n.Addr(), n.Edge.Message, c.Addr(), c.Edge.Message, n.Edge.Message, c.Addr(), c.Edge.Message)
			}
		case KindAggregate:
			s.checkAggregateMessages(d)
		}
	}
}

// checkAggregateMessages checks an aggregate's inputs against its message:
// a list names one type per from entry, and each input emits its part's
// type (only a fan_out, which copies its input, can disagree).
func (s *state) checkAggregateMessages(d *nodeDecl) {
	n := d.node
	e := n.Edge
	fromAttr := d.attrs["from"]
	if fromAttr == nil {
		return
	}
	if exprs, diags := hcl.ExprList(fromAttr.Expr); diags.HasErrors() || len(exprs) != len(n.From) {
		return // a from entry did not resolve: reported, and the indexes would not line up
	}
	if e.Typed() && len(e.Parts) != len(n.From) {
		s.errorf(e.MessageRange.Ptr(), "Wrong number of part types",
			"%s lists %s in message but %s in from. Give one type per from entry, in the same order: the type of the part each of those nodes sends.",
			n.Addr(), Plural(len(e.Parts), "type"), Plural(len(n.From), "node"))
		return
	}
	for i, in := range n.From {
		t, want := carried(in, n), e.PartMessage(i)
		if t == "" || want == "" || t == want {
			continue
		}
		if e.Typed() {
			s.errorf(n.FromRanges[i].Ptr(), "Aggregate part type mismatch",
				"%s carries %s (a fan_out copies its input), but %s declares message[%d] = %q for the part from it. Make the types agree: set message[%d] = %q, or feed the aggregate from a node that emits %s.",
				in.Addr(), t, n.Addr(), i, want, i, t, want)
			continue
		}
		s.errorf(n.FromRanges[i].Ptr(), "Aggregate inputs carry different types",
			"%s carries %s (a fan_out copies its input), but %s declares message = %q, which its other inputs emit. An aggregate joins messages of one type unless its message lists one type per input (message = [\"A\", \"B\"]): make the message types agree, or list them.",
			in.Addr(), t, n.Addr(), e.Message)
	}
}

// checkAggregateStarts reports aggregates whose inputs trace back to
// different start nodes: run IDs come from one start, so such parts would
// never meet. It needs an acyclic graph.
func (s *state) checkAggregateStarts(nodes []*nodeDecl) {
	memo := map[*Node][]string{}
	var starts func(n *Node) []string
	starts = func(n *Node) []string {
		if v, ok := memo[n]; ok {
			return v
		}
		set := map[string]bool{}
		if n.Kind == KindStart {
			set[n.Addr()] = true
		}
		for _, in := range n.From {
			for _, a := range starts(in) {
				set[a] = true
			}
		}
		list := make([]string, 0, len(set))
		for a := range set {
			list = append(list, a)
		}
		sort.Strings(list)
		memo[n] = list
		return list
	}
	for _, d := range nodes {
		if d.kind != KindAggregate {
			continue
		}
		all := map[string]bool{}
		var lines []string
		for _, in := range d.node.From {
			st := starts(in)
			for _, a := range st {
				all[a] = true
			}
			lines = append(lines, fmt.Sprintf("%s comes from %s", in.Addr(), strings.Join(st, " and ")))
		}
		if len(all) > 1 {
			s.errorf(d.attrs["from"].Expr.Range().Ptr(), "Aggregate inputs from different starts",
				"%s: %s. Each run begins at one start and an aggregate joins the parts of one run, so these parts would never meet. Feed the aggregate from nodes downstream of a single start.",
				d.addr(), strings.Join(lines, "; "))
		}
	}
}

// checkQueues reports a queue name that feeds two nodes.
func (s *state) checkQueues(nodes []*nodeDecl) {
	seen := map[string]*nodeDecl{}
	for _, d := range nodes {
		e := d.node.Edge
		if e == nil || e.Queue == "" {
			continue
		}
		if prev, ok := seen[e.Queue]; ok {
			s.errorf(e.QueueRange.Ptr(), "Duplicate queue name",
				"The queue %q already feeds %s (%s). Each node needs a queue of its own: rename one of them.", e.Queue, prev.addr(), prev.node.Edge.QueueRange)
			continue
		}
		seen[e.Queue] = d
	}
}

// checkExchanges checks the graph's exchange names, derived or set in the
// broker block: valid, and distinct from one another.
func (s *state) checkExchanges(g *Graph) {
	if s.graph == nil || nameProblem(g.Name) != "" {
		return // the graph's own diagnostics cover it
	}
	type ex struct {
		attr, name string
	}
	list := []ex{{"work_exchange", g.Broker.WorkExchange}, {"retry_exchange", g.Broker.RetryExchange}}
	if g.HasPoll() {
		list = append(list, ex{"poll_exchange", g.Broker.PollExchange})
	}
	seen := map[string]string{}
	for _, e := range list {
		var set *hcl.Attribute
		if s.broker != nil {
			set = s.broker.attrs[e.attr]
		}
		if set == nil {
			// A derived name: only its length can be wrong.
			if len(e.name) > maxAMQPName {
				s.errorf(s.graph.nameRange.Ptr(), "Graph name too long",
					"dge names the graph's %s after the graph, %q, which is %d bytes long; RabbitMQ allows %d. Shorten the graph name, or set %s in the broker block.",
					strings.ReplaceAll(e.attr, "_", " "), e.name, len(e.name), maxAMQPName, e.attr)
			}
		}
		if prev, ok := seen[e.name]; ok {
			subject := s.graph.nameRange.Ptr()
			if set != nil {
				subject = set.Expr.Range().Ptr()
			}
			s.errorf(subject, "Duplicate exchange name",
				"%s and %s are both %q; dge needs a distinct exchange for each role. Set different names in the broker block.", prev, e.attr, e.name)
			continue
		}
		seen[e.name] = e.attr
	}
}
