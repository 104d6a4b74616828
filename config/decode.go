package config

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// state is one load's work in progress: the decoded blocks, their
// evaluated values and the diagnostics collected so far.
type state struct {
	loader *Loader
	opts   Options
	files  []string
	diags  hcl.Diagnostics

	// firstRange is the start of the first file: where diagnostics about
	// something missing from the whole graph point.
	firstRange *hcl.Range

	graph  *graphDecl
	broker *brokerDecl
	vars   map[string]*varDecl
	locals map[string]*localDecl
	nodes  []*nodeDecl
	moved  []*movedDecl

	ctx *hcl.EvalContext
	// interrupt is the load's context, and stopped the error that ends the
	// load once it is cancelled (see stop).
	interrupt context.Context
	stopped   *hcl.Diagnostic
	// budget follows the evaluation under way (see evaluate).
	budget budget
	// suggestions counts the "did you mean" suggestions made (see
	// suggestRef).
	suggestions int

	// seen records the block types present in the source, labelled
	// correctly or not.
	seen map[string]bool
}

type graphDecl struct {
	name      string
	nameRange hcl.Range
	declRange hcl.Range
	attrs     hcl.Attributes
	body      hcl.Body
}

type brokerDecl struct {
	declRange hcl.Range
	attrs     hcl.Attributes
}

type varDecl struct {
	name      string
	declRange hcl.Range
	attrs     hcl.Attributes

	typ       cty.Type
	defaults  *typeexpr.Defaults
	parseHCL  bool // -var and DGE_VAR_ values are HCL expressions, not raw strings
	sensitive bool

	value      cty.Value
	valueRange *hcl.Range // where the final value came from; nil for -var and DGE_VAR_
	hasValue   bool
}

type localDecl struct {
	name string
	attr *hcl.Attribute
	deps []string

	value cty.Value
}

type nodeDecl struct {
	kind      Kind
	name      string
	declRange hcl.Range
	nameRange hcl.Range
	attrs     hcl.Attributes
	body      hcl.Body

	from []*fromRef
	// over is a gather's reference to the split it closes; nil for other
	// kinds, or when the attribute is missing or not a reference.
	over *fromRef
	// consumers holds the references to this node in other nodes' from,
	// each with the consuming node as target.
	consumers []*fromRef
	node      *Node
	// deploy is the node's deploy block; nil when it has none.
	deploy *deployDecl
	// dup marks a node whose name an earlier node already uses; it is left
	// out of the graph so that it does not cause a cascade of errors.
	dup bool
}

// movedDecl is one `moved` block: a rename of an edge queue.
type movedDecl struct {
	declRange hcl.Range
	attrs     hcl.Attributes
}

// fromRef is one node reference in a `from` attribute.
type fromRef struct {
	kind   Kind
	name   string
	rng    hcl.Range
	target *nodeDecl
}

func (r *fromRef) addr() string { return string(r.kind) + "." + r.name }

func (d *nodeDecl) addr() string { return string(d.kind) + "." + d.name }

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "graph", LabelNames: []string{"name"}},
		{Type: "broker"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "moved"},
		{Type: string(KindStart), LabelNames: []string{"name"}},
		{Type: string(KindProcess), LabelNames: []string{"name"}},
		{Type: string(KindFanOut), LabelNames: []string{"name"}},
		{Type: string(KindAggregate), LabelNames: []string{"name"}},
		{Type: string(KindPoll), LabelNames: []string{"name"}},
		{Type: string(KindRoute), LabelNames: []string{"name"}},
		{Type: string(KindSplit), LabelNames: []string{"name"}},
		{Type: string(KindGather), LabelNames: []string{"name"}},
		{Type: string(KindTerminate), LabelNames: []string{"name"}},
	},
}

var graphSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "handlers"},
		{Name: "on_failure"},
	},
}

var brokerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "vhost"},
		{Name: "queue_type"},
		{Name: "work_exchange"},
		{Name: "retry_exchange"},
		{Name: "poll_exchange"},
		{Name: "adopt"},
		{Name: "management_url"},
		{Name: "amqp_url"},
		{Name: "username"},
		{Name: "password"},
	},
}

var movedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true},
		{Name: "to", Required: true},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default"},
		{Name: "type"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// nodeSchemas holds the attributes each node kind accepts. `handler` is
// accepted everywhere so that a handler on the wrong kind gets a message
// of its own; required attributes are checked by the loader, with details
// that say what to write. `when` is accepted by the kinds a route can feed
// (route.go); an aggregate cannot be one path of a route.
var nodeSchemas = map[Kind]*hcl.BodySchema{
	KindStart:     nodeSchema("handler"),
	KindProcess:   nodeSchema(edgeAttrs("handler", "when")...),
	KindFanOut:    nodeSchema(edgeAttrs("handler", "when")...),
	KindAggregate: nodeSchema(edgeAttrs("handler", "timeout")...),
	KindPoll:      nodeSchema(edgeAttrs("handler", "interval", "timeout", "when")...),
	KindRoute:     nodeSchema(edgeAttrs("handler")...),
	KindSplit:     nodeSchema(edgeAttrs("handler", "when")...),
	KindGather:    nodeSchema(edgeAttrs("handler", "over", "timeout", "zero")...),
	KindTerminate: nodeSchema(edgeAttrs("handler", "when")...),
}

func edgeAttrs(extra ...string) []string {
	return append([]string{"from", "queue", "message", "retry", "max_attempts", "prefetch", "concurrency"}, extra...)
}

func nodeSchema(names ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "deploy"}}}
	for _, n := range names {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}

// decodeFile decodes the structure of one file: its blocks and their
// attributes, leaving every expression unevaluated.
func (s *state) decodeFile(f *hcl.File) {
	if s.firstRange == nil {
		r := f.Body.MissingItemRange()
		if sb, ok := f.Body.(interface{ Range() hcl.Range }); ok {
			r = sb.Range()
		}
		r.End = r.Start
		s.firstRange = &r
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		// Blocks hcl rejects for their labels still count as present, so
		// that a missing label does not also report a missing block.
		for _, b := range body.Blocks {
			s.seen[b.Type] = true
		}
	}
	content, diags := f.Body.Content(fileSchema)
	for _, d := range diags {
		if d.Summary == "Unsupported argument" {
			d.Detail += " A graph file holds only blocks: graph, broker, variable, locals, moved and the node blocks (start, process, fan_out, aggregate, poll, route, split, gather, terminate). To name a value, define it in a locals block."
		}
	}
	s.diags = append(s.diags, diags...)
	for _, b := range content.Blocks {
		switch b.Type {
		case "graph":
			s.decodeGraph(b)
		case "broker":
			s.decodeBroker(b)
		case "variable":
			s.decodeVariable(b)
		case "locals":
			s.decodeLocals(b)
		case "moved":
			s.decodeMoved(b)
		default:
			s.decodeNode(b)
		}
	}
}

func (s *state) decodeGraph(b *hcl.Block) {
	if s.graph != nil {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate graph block",
			Detail:   fmt.Sprintf("A graph is already declared at %s. The files of one folder form one graph: remove one of the graph blocks.", s.graph.declRange),
			Subject:  b.DefRange.Ptr(),
		})
		return
	}
	content, diags := b.Body.Content(graphSchema)
	s.diags = append(s.diags, diags...)
	s.graph = &graphDecl{
		name:      b.Labels[0],
		nameRange: b.LabelRanges[0],
		declRange: b.DefRange,
		attrs:     content.Attributes,
		body:      b.Body,
	}
}

func (s *state) decodeBroker(b *hcl.Block) {
	if s.broker != nil {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate broker block",
			Detail:   fmt.Sprintf("A broker block is already declared at %s. Merge the two into one.", s.broker.declRange),
			Subject:  b.DefRange.Ptr(),
		})
		return
	}
	content, diags := b.Body.Content(brokerSchema)
	s.diags = append(s.diags, diags...)
	s.broker = &brokerDecl{declRange: b.DefRange, attrs: content.Attributes}
}

func (s *state) decodeVariable(b *hcl.Block) {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   fmt.Sprintf("%q is not a valid name. A name starts with a letter and holds letters, digits, underscores and dashes: rename the variable.", name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
		return
	}
	if s.vars == nil {
		s.vars = map[string]*varDecl{}
	}
	if prev, ok := s.vars[name]; ok {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate variable",
			Detail:   fmt.Sprintf("The variable %q is already declared at %s. Remove or rename one of them.", name, prev.declRange),
			Subject:  b.LabelRanges[0].Ptr(),
		})
		return
	}
	content, diags := b.Body.Content(variableSchema)
	s.diags = append(s.diags, diags...)
	s.vars[name] = &varDecl{name: name, declRange: b.DefRange, attrs: content.Attributes}
}

func (s *state) decodeLocals(b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	s.diags = append(s.diags, diags...)
	if s.locals == nil {
		s.locals = map[string]*localDecl{}
	}
	for _, name := range sortedAttrNames(attrs) {
		attr := attrs[name]
		if prev, ok := s.locals[name]; ok {
			s.diags = append(s.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate local value",
				Detail:   fmt.Sprintf("local.%s is already defined at %s. Remove or rename one of them.", name, prev.attr.NameRange),
				Subject:  attr.NameRange.Ptr(),
			})
			continue
		}
		s.locals[name] = &localDecl{name: name, attr: attr}
	}
}

func (s *state) decodeMoved(b *hcl.Block) {
	content, diags := b.Body.Content(movedSchema)
	for _, d := range diags {
		switch d.Summary {
		case "Unsupported argument":
			d.Detail += " A moved block takes: from (the queue's old name) and to (its new name). Remove the argument, or fix its name."
		case "Missing required argument":
			d.Detail += " A moved block renames a queue, keeping its messages: moved { from = \"old_name\"  to = \"new_name\" }."
		}
	}
	s.diags = append(s.diags, diags...)
	s.moved = append(s.moved, &movedDecl{declRange: b.DefRange, attrs: content.Attributes})
}

func (s *state) decodeNode(b *hcl.Block) {
	kind := Kind(b.Type)
	schema := nodeSchemas[kind]
	content, diags := b.Body.Content(schema)
	for _, d := range diags {
		if d.Summary == "Unsupported argument" {
			var names []string
			for _, a := range schema.Attributes {
				if a.Name != "handler" || requiredHandler[kind] {
					names = append(names, a.Name)
				}
			}
			switch {
			case strings.Contains(d.Detail, `"when"`) && notPathReason[kind] != "":
				d.Detail += fmt.Sprintf(" when names the label of a route's path, and %s.%s cannot be one: %s. Remove the argument, and put a process with the when between the route and %s.%s.", kind, b.Labels[0], notPathReason[kind], kind, b.Labels[0])
			case len(names) == 0:
				d.Detail += fmt.Sprintf(" A %s takes no arguments: %s, and the node it feeds names it in from. Remove the argument.", kind, kindPurpose[kind])
			default:
				d.Detail += fmt.Sprintf(" A %s takes: %s. Remove the argument, or fix its name.", kind, strings.Join(names, ", "))
			}
		}
	}
	s.diags = append(s.diags, diags...)
	d := &nodeDecl{
		kind:      kind,
		name:      b.Labels[0],
		declRange: b.DefRange,
		nameRange: b.LabelRanges[0],
		attrs:     content.Attributes,
		body:      b.Body,
	}
	for _, blk := range content.Blocks {
		s.decodeDeploy(d, blk)
	}
	s.nodes = append(s.nodes, d)
}

// sortedAttrNames returns attrs' names in source order, so diagnostics come
// out in a stable order.
func sortedAttrNames(attrs hcl.Attributes) []string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sortByRange(names, func(n string) hcl.Range { return attrs[n].Range })
	return names
}
