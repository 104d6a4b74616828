package config

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/dgehq/dge/topology"
)

// build evaluates the graph, broker and node blocks into a Graph, links the
// nodes by their from references (link.go) and validates the whole
// (validate.go).
func (s *state) build() *Graph {
	g := &Graph{Files: append([]string(nil), s.files...)}
	sort.Strings(g.Files)
	s.buildGraph(g)
	s.buildBroker(g)
	nodes := s.buildNodes()
	s.link(nodes)
	s.linkOver(nodes)
	s.checkOutputs(nodes)
	s.checkStartAndTerminate(g, nodes)
	order, acyclic := s.sortNodes(nodes)
	s.checkMessages(nodes)
	s.checkGoNames(g, nodes)
	s.checkRoutes(nodes)
	s.checkGathers(nodes)
	if acyclic {
		s.checkAggregateStarts(nodes)
		s.checkSplits(nodes, order)
		s.checkRouteChoices(nodes, order)
	}
	s.checkQueues(nodes)
	s.checkExchanges(g)
	g.Nodes = order
	g.Moved = s.buildMoved(nodes)
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

// evalChecked evaluates a string attribute and reports, under summary and
// at the expression, the problem check finds in its value (a sensitive
// value hidden). check may be nil. ok is false when the attribute did not
// evaluate to a string (that is reported already).
func (s *state) evalChecked(attr *hcl.Attribute, what, summary string, check func(string) string) (v string, ok bool) {
	v, sens, ok := s.evalString(attr, what)
	if !ok {
		return "", false
	}
	if check != nil {
		if p := check(v); p != "" {
			s.errorf(attr.Expr.Range().Ptr(), summary, "%s", redacted(p, v, sens))
		}
	}
	return v, true
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
		if v, ok := s.evalChecked(attr, "handlers", "Invalid handlers import path", importPathProblem); ok {
			g.Handlers = v
		}
	} else {
		s.errorf(gd.declRange.Ptr(), "Missing required argument",
			"The graph needs handlers: the Go import path of the package that holds the message types and handler functions, such as handlers = \"example.com/project/behaviour\".")
	}
	if attr, ok := gd.attrs["on_failure"]; ok {
		g.OnFailureRange = attr.Expr.Range()
		failure := func(v string) string { return goNameProblem(v, "failure function") }
		if v, ok := s.evalChecked(attr, "on_failure", "Invalid function name", failure); ok {
			g.OnFailure = v
		}
	}
}

func (s *state) buildBroker(g *Graph) {
	b := &g.Broker
	b.Vhost = "/"
	b.QueueType = DefaultQueueType
	b.WorkExchange = topology.WorkExchange(g.Name)
	b.RetryExchange = topology.RetryExchange(g.Name)
	b.PollExchange = topology.PollExchange(g.Name)
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
		if v, ok := s.evalChecked(attr, name, "Invalid "+strings.ReplaceAll(name, "_", " "), check); ok {
			*dst = v
		}
	}
	str("vhost", &b.Vhost, vhostProblem)
	var qt string
	str("queue_type", &qt, queueTypeProblem)
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
		b.Adopt = s.buildAdopt(attr)
	}
}

// queueTypeProblem describes what is wrong with a broker queue_type, or
// returns "".
func queueTypeProblem(v string) string {
	switch QueueType(v) {
	case QueueQuorum, QueueClassic:
		return ""
	}
	return fmt.Sprintf("The queue type %q is not one dge supports. Write \"quorum\" (the default, replicated) or \"classic\".", v)
}

// buildAdopt evaluates the broker's adopt list and returns its valid names,
// reporting each invalid element at its own range when it has one.
func (s *state) buildAdopt(attr *hcl.Attribute) []string {
	val, sens, ok := s.evalAttr(attr, cty.List(cty.String), "adopt")
	if !ok {
		return nil
	}
	var names []string
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
		names = append(names, name)
	}
	return names
}

// requiredHandler tells which kinds must name a handler.
var requiredHandler = map[Kind]bool{KindProcess: true, KindAggregate: true, KindPoll: true, KindRoute: true, KindSplit: true, KindGather: true}

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

// buildNode evaluates one node block into d.node, step by step: its
// handler, then (but for a start) its edge, its kind's timing, the
// label of the route's path it is (route.go) and its deploy block
// (deploy.go).
func (s *state) buildNode(d *nodeDecl) {
	n := &Node{Kind: d.kind, Name: d.name, DeclRange: d.declRange}
	d.node = n
	s.buildHandler(d, n)
	if d.kind == KindStart {
		return
	}
	n.Edge = s.buildEdge(d)
	s.buildTiming(d, n)
	s.buildWhen(d, n)
	n.Deploy = s.buildDeploy(d)
}

// missing reports a required argument that node d lacks.
func (s *state) missing(d *nodeDecl, arg, what string) {
	s.errorf(d.declRange.Ptr(), "Missing required argument", "%s needs %s argument: %s", d.addr(), arg, what)
}

// buildHandler reads the node's handler: required of the kinds that run
// user code, refused on the others.
func (s *state) buildHandler(d *nodeDecl, n *Node) {
	attr, ok := d.attrs["handler"]
	if !ok {
		if requiredHandler[d.kind] {
			s.missing(d, "a handler", fmt.Sprintf("the name of the function in the handlers package that does its work, such as handler = %q.", ExportedName(goishName(d.name))))
		}
		return
	}
	n.HandlerRange = attr.Expr.Range()
	if !requiredHandler[d.kind] {
		s.errorf(attr.Range.Ptr(), "Unexpected handler",
			"%s takes no handler: %s, with no code of the user's. Remove the handler argument, or make the node a process.", d.addr(), kindPurpose[d.kind])
		return
	}
	handler := func(v string) string { return goNameProblem(v, "handler") }
	if v, ok := s.evalChecked(attr, "handler", "Invalid handler name", handler); ok {
		n.Handler = v
	}
}

// buildEdge reads what feeds the node: its from references (decodeFrom,
// link.go), its queue and message type, then its delivery settings.
func (s *state) buildEdge(d *nodeDecl) *Edge {
	e := &Edge{
		Retry:       DefaultRetry,
		MaxAttempts: DefaultMaxAttempts,
		Prefetch:    DefaultPrefetch,
		Concurrency: DefaultConcurrency,
	}
	if attr, ok := d.attrs["from"]; ok {
		s.decodeFrom(d, attr)
	} else {
		s.missing(d, "a from", "the node that feeds it, such as from = process.double"+map[bool]string{true: " (an aggregate takes a list: from = [process.a, process.b])"}[d.kind == KindAggregate]+".")
	}
	if attr, ok := d.attrs["queue"]; ok {
		e.QueueRange = attr.Expr.Range()
		if v, ok := s.evalChecked(attr, "queue", "Invalid queue name", queueNameProblem); ok {
			e.Queue = v
		}
	} else {
		s.missing(d, "a queue", fmt.Sprintf("the name of the RabbitMQ queue that feeds it, such as queue = %q.", d.name))
	}
	if attr, ok := d.attrs["message"]; ok {
		e.MessageRange = attr.Expr.Range()
		s.buildMessage(d, attr, e)
	} else {
		s.missing(d, "a message", "the Go type, in the handlers package, of the messages on its queue, such as message = \"Integer\".")
	}
	s.buildDelivery(d, e)
	return e
}

// buildMessage reads the edge's message type: one Go type name, or for an
// aggregate a list of them, one per from entry (typed parts).
func (s *state) buildMessage(d *nodeDecl, attr *hcl.Attribute, e *Edge) {
	message := func(v string) string { return goNameProblem(v, "message type") }
	val, sens, ok := s.evalAttr(attr, cty.DynamicPseudoType, "message")
	if !ok {
		return
	}
	if !val.Type().IsListType() && !val.Type().IsTupleType() {
		if v, ok := s.evalChecked(attr, "message", "Invalid message type", message); ok {
			e.Message = v
		}
		return
	}
	if d.kind != KindAggregate {
		s.errorf(attr.Expr.Range().Ptr(), "Invalid message type",
			"%s has one input, so its message is one Go type name, such as message = \"Integer\"; only an aggregate takes a list, one type per from entry.", d.addr())
		return
	}
	list, _, ok := s.evalAttr(attr, cty.List(cty.String), "message")
	if !ok {
		return
	}
	elems, _ := hcl.ExprList(attr.Expr)
	parts := []string{}
	var ranges []hcl.Range
	i := 0
	for it := list.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := attr.Expr.Range()
		if len(elems) == list.LengthInt() {
			rng = elems[i].Range()
		}
		if ev.IsNull() {
			s.errorf(&rng, "Invalid message type", "message lists the Go type of each part; an element is null. Name a type.")
			return
		}
		v := ev.AsString()
		if p := message(v); p != "" {
			s.errorf(&rng, "Invalid message type", "%s", redacted(p, v, sens))
			return
		}
		parts = append(parts, v)
		ranges = append(ranges, rng)
	}
	e.Parts, e.PartRanges = parts, ranges
	e.Message = strings.Join(parts, ", ")
}

// buildDelivery reads the edge's retry delay, attempts, prefetch and
// concurrency over their defaults.
func (s *state) buildDelivery(d *nodeDecl, e *Edge) {
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
}

// buildTiming reads a poll's interval and timeout, and an aggregate's or a
// gather's timeout, over their defaults; for a gather also its over and
// zero (split.go).
func (s *state) buildTiming(d *nodeDecl, n *Node) {
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
	case KindGather:
		n.Timeout = DefaultGatherTimeout
		if attr, ok := d.attrs["timeout"]; ok {
			if v, ok := s.evalDuration(attr, "timeout", false); ok {
				n.Timeout = v
			}
		}
		s.buildGather(d, n)
	}
}

// goishName turns a snake_case node name into CamelCase, for suggestions.
func goishName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part != "" {
			b.WriteString(ExportedName(part))
		}
	}
	if b.Len() == 0 {
		return "Handler"
	}
	return b.String()
}
