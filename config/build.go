package config

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// build evaluates the graph, broker and node blocks into a Graph, links the
// nodes by their from references and validates the whole.
func (s *state) build() *Graph {
	g := &Graph{Files: append([]string(nil), s.files...)}
	sort.Strings(g.Files)
	s.buildGraph(g)
	s.buildBroker(g)
	nodes := s.buildNodes()
	s.link(nodes)
	s.checkOutputs(nodes)
	s.checkStartAndTerminate(g, nodes)
	order, acyclic := s.sortNodes(nodes)
	s.checkMessages(nodes)
	if acyclic {
		s.checkAggregateStarts(nodes)
	}
	s.checkQueues(nodes)
	s.checkExchanges(g)
	g.Nodes = order
	return g
}

// errorf appends an error diagnostic.
func (s *state) errorf(subject *hcl.Range, summary, format string, args ...any) {
	s.diags = append(s.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// redacted hides a sensitive value in a problem description.
func redacted(problem, value string, sensitive bool) string {
	if !sensitive || value == "" {
		return problem
	}
	return strings.ReplaceAll(problem, fmt.Sprintf("%q", value), "(sensitive value)")
}

func (s *state) buildGraph(g *Graph) {
	gd := s.graph
	if gd == nil {
		if s.seen["graph"] {
			return // reported where it was decoded
		}
		s.errorf(s.firstRange, "Missing graph block",
			"Every graph needs one graph block naming it and its handlers package. Add, for example: graph \"arith\" { handlers = \"example.com/project/behaviour\" }.")
		return
	}
	g.Name = gd.name
	g.DeclRange = gd.declRange
	if p := nameProblem(gd.name); p != "" {
		s.errorf(gd.nameRange.Ptr(), "Invalid graph name", "%s", p)
	}
	if attr, ok := gd.attrs["handlers"]; ok {
		g.HandlersRange = attr.Expr.Range()
		if v, sens, ok := s.evalString(attr, "handlers"); ok {
			g.Handlers = v
			if p := importPathProblem(v); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid handlers import path", "%s", redacted(p, v, sens))
			}
		}
	} else {
		s.errorf(gd.declRange.Ptr(), "Missing required argument",
			"The graph needs handlers: the Go import path of the package that holds the message types and handler functions, such as handlers = \"example.com/project/behaviour\".")
	}
	if attr, ok := gd.attrs["on_failure"]; ok {
		g.OnFailureRange = attr.Expr.Range()
		if v, sens, ok := s.evalString(attr, "on_failure"); ok {
			g.OnFailure = v
			if p := goNameProblem(v, "failure function"); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid function name", "%s", redacted(p, v, sens))
			}
		}
	}
}

func (s *state) buildBroker(g *Graph) {
	b := &g.Broker
	b.Vhost = "/"
	b.QueueType = DefaultQueueType
	b.WorkExchange = g.Name + ".work"
	b.RetryExchange = g.Name + ".retry"
	b.PollExchange = g.Name + ".poll"
	bd := s.broker
	if bd == nil {
		return
	}
	b.DeclRange = bd.declRange
	str := func(name string, dst *string, check func(string) string) {
		attr, ok := bd.attrs[name]
		if !ok {
			return
		}
		v, sens, ok := s.evalString(attr, name)
		if !ok {
			return
		}
		*dst = v
		if check != nil {
			if p := check(v); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid "+strings.ReplaceAll(name, "_", " "), "%s", redacted(p, v, sens))
			}
		}
	}
	str("vhost", &b.Vhost, vhostProblem)
	var qt string
	str("queue_type", &qt, func(v string) string {
		switch QueueType(v) {
		case QueueQuorum, QueueClassic:
			return ""
		}
		return fmt.Sprintf("The queue type %q is not one dge supports. Write \"quorum\" (the default, replicated) or \"classic\".", v)
	})
	if qt == string(QueueQuorum) || qt == string(QueueClassic) {
		b.QueueType = QueueType(qt)
	}
	exchange := func(v string) string { return amqpNameProblem(v, "exchange", 0) }
	str("work_exchange", &b.WorkExchange, exchange)
	str("retry_exchange", &b.RetryExchange, exchange)
	str("poll_exchange", &b.PollExchange, exchange)
	str("management_url", &b.ManagementURL, nil)
	str("amqp_url", &b.AMQPURL, nil)
	str("username", &b.Username, nil)
	str("password", &b.Password, nil)

	if attr, ok := bd.attrs["adopt"]; ok {
		val, sens, ok := s.evalAttr(attr, cty.List(cty.String), "adopt")
		if !ok {
			return
		}
		elems, _ := hcl.ExprList(attr.Expr)
		i := 0
		for it := val.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			rng := attr.Expr.Range()
			if len(elems) == val.LengthInt() {
				rng = elems[i].Range()
			}
			if ev.IsNull() {
				s.errorf(&rng, "Invalid adopt name", "adopt lists queue and exchange names; an element is null. Remove it.")
				continue
			}
			name := ev.AsString()
			if p := amqpNameProblem(name, "queue or exchange", 0); p != "" {
				s.errorf(&rng, "Invalid adopt name", "%s", redacted(p, name, sens))
				continue
			}
			b.Adopt = append(b.Adopt, name)
		}
	}
}

// requiredHandler tells which kinds must name a handler.
var requiredHandler = map[Kind]bool{KindProcess: true, KindAggregate: true, KindPoll: true}

// kindPurpose explains, for diagnostics, what a node of each kind does.
var kindPurpose = map[Kind]string{
	KindStart:     "a start is where runs enter the graph",
	KindFanOut:    "a fan_out copies its input to every node whose from names it",
	KindTerminate: "a terminate is the graph's exit; its queue holds the results",
}

func (s *state) buildNodes() []*nodeDecl {
	var nodes []*nodeDecl
	byName := map[string]*nodeDecl{}
	for _, d := range s.nodes {
		if p := nameProblem(d.name); p != "" {
			s.errorf(d.nameRange.Ptr(), "Invalid node name", "%s", p)
		} else if p := reservedProblem(d.name); p != "" {
			s.errorf(d.nameRange.Ptr(), "Reserved node name", "%s", p)
		}
		if prev, ok := byName[d.name]; ok {
			d.dup = true
			s.errorf(d.nameRange.Ptr(), "Duplicate node name",
				"The name %q is already used by %s at %s. Node names must be unique across all kinds, because each becomes a subcommand of the generated program. Rename one of them.",
				d.name, prev.addr(), prev.declRange)
		} else {
			byName[d.name] = d
		}
		s.buildNode(d)
		if !d.dup {
			nodes = append(nodes, d)
		}
	}
	return nodes
}

func (s *state) buildNode(d *nodeDecl) {
	n := &Node{Kind: d.kind, Name: d.name, DeclRange: d.declRange}
	d.node = n
	addr := d.addr()
	missing := func(arg, what string) {
		s.errorf(d.declRange.Ptr(), "Missing required argument", "%s needs %s argument: %s", addr, arg, what)
	}

	if attr, ok := d.attrs["handler"]; ok {
		n.HandlerRange = attr.Expr.Range()
		if !requiredHandler[d.kind] {
			s.errorf(attr.Range.Ptr(), "Unexpected handler",
				"%s takes no handler: %s, with no code of the user's. Remove the handler argument, or make the node a process.", addr, kindPurpose[d.kind])
		} else if v, sens, ok := s.evalString(attr, "handler"); ok {
			n.Handler = v
			if p := goNameProblem(v, "handler"); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid handler name", "%s", redacted(p, v, sens))
			}
		}
	} else if requiredHandler[d.kind] {
		missing("a handler", fmt.Sprintf("the name of the function in the handlers package that does its work, such as handler = %q.", exported(goishName(d.name))))
	}

	if d.kind == KindStart {
		return
	}
	e := &Edge{
		Retry:       DefaultRetry,
		MaxAttempts: DefaultMaxAttempts,
		Prefetch:    DefaultPrefetch,
		Concurrency: DefaultConcurrency,
	}
	n.Edge = e
	if attr, ok := d.attrs["from"]; ok {
		s.decodeFrom(d, attr)
	} else {
		missing("a from", "the node that feeds it, such as from = process.double"+map[bool]string{true: " (an aggregate takes a list: from = [process.a, process.b])"}[d.kind == KindAggregate]+".")
	}
	if attr, ok := d.attrs["queue"]; ok {
		e.QueueRange = attr.Expr.Range()
		if v, sens, ok := s.evalString(attr, "queue"); ok {
			e.Queue = v
			if p := queueNameProblem(v); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid queue name", "%s", redacted(p, v, sens))
			}
		}
	} else {
		missing("a queue", fmt.Sprintf("the name of the RabbitMQ queue that feeds it, such as queue = %q.", d.name))
	}
	if attr, ok := d.attrs["message"]; ok {
		e.MessageRange = attr.Expr.Range()
		if v, sens, ok := s.evalString(attr, "message"); ok {
			e.Message = v
			if p := goNameProblem(v, "message type"); p != "" {
				s.errorf(attr.Expr.Range().Ptr(), "Invalid message type", "%s", redacted(p, v, sens))
			}
		}
	} else {
		missing("a message", "the Go type, in the handlers package, of the messages on its queue, such as message = \"Integer\".")
	}
	if attr, ok := d.attrs["retry"]; ok {
		if v, ok := s.evalDuration(attr, "retry", true); ok {
			e.Retry = v
		}
	}
	if attr, ok := d.attrs["max_attempts"]; ok {
		if v, ok := s.evalCount(attr, "max_attempts", math.MaxInt32); ok {
			e.MaxAttempts = v
		}
	}
	if attr, ok := d.attrs["prefetch"]; ok {
		// AMQP's basic.qos prefetch count is a 16-bit number.
		if v, ok := s.evalCount(attr, "prefetch", math.MaxUint16); ok {
			e.Prefetch = v
		}
	}
	if attr, ok := d.attrs["concurrency"]; ok {
		if v, ok := s.evalCount(attr, "concurrency", math.MaxUint16); ok {
			e.Concurrency = v
		}
	}
	switch d.kind {
	case KindPoll:
		n.Interval, n.Timeout = DefaultPollInterval, DefaultPollTimeout
		if attr, ok := d.attrs["interval"]; ok {
			if v, ok := s.evalDuration(attr, "interval", true); ok {
				n.Interval = v
			}
		}
		if attr, ok := d.attrs["timeout"]; ok {
			if v, ok := s.evalDuration(attr, "timeout", false); ok {
				n.Timeout = v
			}
		}
	case KindAggregate:
		n.Timeout = DefaultAggregateTimeout
		if attr, ok := d.attrs["timeout"]; ok {
			if v, ok := s.evalDuration(attr, "timeout", false); ok {
				n.Timeout = v
			}
		}
	}
}

// goishName turns a snake_case node name into CamelCase, for suggestions.
func goishName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part != "" {
			b.WriteString(exported(part))
		}
	}
	if b.Len() == 0 {
		return "Handler"
	}
	return b.String()
}

// decodeFrom reads a node's from attribute as references, without
// evaluating it: a single KIND.NAME, or for an aggregate a list of them.
func (s *state) decodeFrom(d *nodeDecl, attr *hcl.Attribute) {
	if d.kind == KindAggregate {
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
				s.errorf(r.rng.Ptr(), "Duplicate aggregate input",
					"%s is already an input of %s; an aggregate joins one message from each of its inputs. Remove the duplicate.", r.addr(), d.addr())
				continue
			}
			seen[r.addr()] = true
			d.from = append(d.from, r)
		}
		if len(exprs) < 2 {
			s.errorf(attr.Expr.Range().Ptr(), "Too few aggregate inputs",
				"%s has %d input; an aggregate joins one message from each of two or more nodes. Add inputs to from, or use a process for a single input.", d.addr(), len(exprs))
		}
		return
	}
	if _, isList := attr.Expr.(*hclsyntax.TupleConsExpr); isList {
		s.errorf(attr.Expr.Range().Ptr(), "Invalid from",
			"A %s has one input, so its from is a single node reference, such as from = process.double; only an aggregate takes a list.", d.kind)
		return
	}
	if r := s.decodeRef(d, attr.Expr); r != nil {
		d.from = append(d.from, r)
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

func (s *state) checkOutputs(nodes []*nodeDecl) {
	for _, d := range nodes {
		if d.kind == KindTerminate {
			continue
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

// sortNodes returns the nodes in topological order, ties broken by
// address, and reports every cycle with its path. acyclic is false when
// there was a cycle; the order then holds every node but is not
// topological.
func (s *state) sortNodes(nodes []*nodeDecl) (order []*Node, acyclic bool) {
	byNode := map[*Node]*nodeDecl{}
	sorted := append([]*nodeDecl(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].addr() < sorted[j].addr() })
	for _, d := range sorted {
		byNode[d.node] = d
	}

	// Depth-first search along the data flow; an edge back into the
	// current path closes a cycle.
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
				for _, r := range byNode[c].from {
					if r.target != nil && r.target.node == n {
						subject = r.rng.Ptr()
						break
					}
				}
				s.errorf(subject, "Cycle in graph",
					"Messages would flow in a loop: %s. A graph must be acyclic: change one of these from references.", strings.Join(path, " → "))
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

	// Kahn's algorithm, always taking the smallest ready address.
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
		// A cycle: place the rest by address so every node appears.
		for _, d := range sorted {
			if !placed[d.node] {
				order = append(order, d.node)
			}
		}
	}
	return order, acyclic
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

// carried returns the message type node in sends to consumer c: a fan_out
// carries its own input's type; any other node emits what c declares.
func carried(in *Node, c *Node) string {
	if in.Kind == KindFanOut {
		return in.Edge.Message
	}
	return c.Edge.Message
}

func (s *state) checkMessages(nodes []*nodeDecl) {
	for _, d := range nodes {
		n := d.node
		if n.Edge == nil || n.Edge.Message == "" {
			continue
		}
		switch n.Kind {
		case KindFanOut:
			for _, c := range n.To {
				if c.Kind == KindAggregate || c.Edge.Message == "" || c.Edge.Message == n.Edge.Message {
					continue // an aggregate's inputs are checked below
				}
				s.errorf(c.Edge.MessageRange.Ptr(), "Message type mismatch",
					"%s copies its input, of type %s, to %s, which declares message = %q. Set message = %q on %s, or feed it from a node that emits %s.",
					n.Addr(), n.Edge.Message, c.Addr(), c.Edge.Message, n.Edge.Message, c.Addr(), c.Edge.Message)
			}
		case KindAggregate:
			for i, in := range n.From {
				t := carried(in, n)
				if t == "" || t == n.Edge.Message {
					continue
				}
				s.errorf(n.FromRanges[i].Ptr(), "Aggregate inputs carry different types",
					"%s carries %s (a fan_out copies its input), but %s declares message = %q, which its other inputs emit. An aggregate joins messages of one type: make the message types agree.",
					in.Addr(), t, n.Addr(), n.Edge.Message)
			}
		}
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
