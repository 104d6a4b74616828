package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/topology"
)

// Kind is the kind of a node: the block type that declares it.
type Kind string

// The node kinds of the language.
const (
	KindStart     Kind = "start"
	KindProcess   Kind = "process"
	KindFanOut    Kind = "fan_out"
	KindAggregate Kind = "aggregate"
	KindPoll      Kind = "poll"
	KindTerminate Kind = "terminate"
	// KindRoute's handler names a label; the message goes down the one
	// path (a node fed by the route) whose When is that label, or the
	// default path (When "*").
	KindRoute Kind = "route"
	// KindSplit's handler returns a list; each element leaves as an item
	// of the split, a message of its own.
	KindSplit Kind = "split"
	// KindGather closes a split (Over): it fires once per split, when
	// every item has arrived.
	KindGather Kind = "gather"
)

// Kinds lists every node kind in the order the language documents them.
var Kinds = []Kind{KindStart, KindProcess, KindFanOut, KindAggregate, KindPoll, KindRoute, KindSplit, KindGather, KindTerminate}

// WhenDefault is the When of a route's default path: it takes every label
// no other path of the route takes.
const WhenDefault = "*"

// QueueType is the RabbitMQ queue type of every queue a graph declares.
type QueueType string

// The queue types dge supports.
const (
	QueueQuorum  QueueType = topology.Quorum
	QueueClassic QueueType = topology.Classic
)

// Defaults applied by the loader where a graph leaves an attribute out.
const (
	DefaultQueueType   = QueueType(topology.DefaultType)
	DefaultRetry       = 5 * time.Second
	DefaultMaxAttempts = 5
	// DefaultPrefetch 0 leaves a node's prefetch window to the runtime,
	// which sizes it from what the node measures (see the runtime's doc).
	DefaultPrefetch         = 0
	DefaultConcurrency      = 1
	DefaultAggregateTimeout = 10 * time.Minute
	DefaultPollInterval     = 5 * time.Second
	DefaultPollTimeout      = time.Hour
	// DefaultGatherTimeout bounds how long a gather waits, from a split's
	// first item, for the rest of its items.
	DefaultGatherTimeout = time.Hour
)

// Graph is a loaded and validated dge graph: the model every later stage
// (plan, generate) works from. A Graph returned with error diagnostics may be
// incomplete and must not be used.
type Graph struct {
	// Name is the graph's label: `graph "arith" {}`.
	Name string
	// Handlers is the Go import path of the user's package that holds the
	// message types and handler functions.
	Handlers string
	// OnFailure names a function in the handlers package called when a
	// message is parked; empty when the graph sets none.
	OnFailure string
	// Broker holds the graph's broker settings, defaults applied.
	Broker Broker
	// Nodes holds every node in topological order (every node after the
	// nodes its `from` names), ties broken by address.
	Nodes []*Node
	// Moved lists the graph's moved blocks in source order: edge queues
	// renamed, whose messages apply moves from the old queue to the new.
	Moved []Moved
	// Files lists the source files the graph was loaded from, as given to
	// the loader (relative paths stay relative), sorted.
	Files []string
	// DeclRange is the range of the `graph` block's header.
	DeclRange hcl.Range
	// HandlersRange and OnFailureRange are the ranges of those attributes'
	// expressions (empty when absent).
	HandlersRange  hcl.Range
	OnFailureRange hcl.Range
}

// Moved is a `moved` block: the edge queue once named From is now To, a
// queue of the graph. From is no queue of the graph.
type Moved struct {
	From, To string
	// DeclRange is the range of the block header; FromRange and ToRange
	// those of the attributes' expressions.
	DeclRange, FromRange, ToRange hcl.Range
}

// Broker is the graph's `broker` block with defaults applied.
type Broker struct {
	Vhost         string    // default "/"
	QueueType     QueueType // default quorum
	WorkExchange  string    // default "<graph>.work"
	RetryExchange string    // default "<graph>.retry"
	PollExchange  string    // default "<graph>.poll"; used only when the graph has poll nodes

	// Connection settings, usually set with env(); empty when not given.
	ManagementURL string
	AMQPURL       string
	Username      string
	Password      string // never print this

	// Adopt names existing unstamped queues and exchanges the graph may
	// manage as its own (`adopt = ["input"]`); objects stamped by another
	// graph can never be adopted.
	Adopt []string

	DeclRange hcl.Range
}

// Node is one node of the graph.
type Node struct {
	Kind Kind
	Name string
	// From lists the nodes that feed this one, in the order the `from`
	// attribute names them: none for start, two or more for aggregate (a
	// join), one for the other kinds, or several for a process or
	// terminate that merges paths (each message passes on alone).
	From []*Node
	// To lists the nodes whose `from` names this node, sorted by address.
	To []*Node
	// Edge is the queue that feeds this node; nil for start.
	Edge *Edge
	// Handler names the handler function in the handlers package; empty for
	// start, fan_out and terminate.
	Handler string
	// Interval is the delay between two checks of a poll node.
	Interval time.Duration
	// Timeout bounds a poll job's life, how long an aggregate waits for
	// the missing parts of a group, or how long a gather waits for the
	// missing items of a split, before the message (or the split's
	// state) is parked.
	Timeout time.Duration
	// Over is, for a gather, the split node it closes (`over =
	// split.pages`); nil for every other kind.
	Over *Node
	// Deploy is how the node runs (its deploy block, defaults applied:
	// DefaultDeploy when it has none); the zero Deploy for start.
	Deploy Deploy
	// When is, for a node fed by a route, the label of the path it is
	// (`when = "invoice"`), or WhenDefault; empty for every other node.
	When string
	// Zero names, for a gather in the fold form, a function of the
	// handlers package that returns the accumulator's starting value
	// (`zero = "NewSummary"`); empty: the accumulator type's zero value.
	Zero string

	// DeclRange is the range of the block header (`process "double"`).
	DeclRange hcl.Range
	// HandlerRange is the range of the `handler` expression (empty when absent).
	HandlerRange hcl.Range
	// FromRanges holds the source range of each reference in From.
	FromRanges []hcl.Range
	// OverRange and ZeroRange are the ranges of a gather's `over` and
	// `zero` expressions, WhenRange that of `when` (empty when absent).
	OverRange, ZeroRange, WhenRange hcl.Range
}

// Edge is the durable queue that carries messages into a node.
type Edge struct {
	Queue string
	// Message is the Go type name, in the handlers package, of the messages
	// on the queue. For an aggregate with typed parts (message = ["A", "B"])
	// it is the list joined with ", ", for display; use PartMessage.
	Message string
	// Parts holds, for an aggregate whose message is a list, the Go type of
	// the part from each of its from nodes, in from order; nil when every
	// message on the queue has type Message.
	Parts       []string
	Retry       time.Duration
	MaxAttempts int
	Prefetch    int
	Concurrency int

	QueueRange   hcl.Range
	MessageRange hcl.Range
	// PartRanges holds the range of each element of Parts.
	PartRanges []hcl.Range
}

// Typed reports whether the edge is an aggregate's with one message type
// per input (message = ["A", "B"]).
func (e *Edge) Typed() bool { return e.Parts != nil }

// PartMessage returns the type of the part an aggregate receives from its
// i-th input: Parts[i] when the parts are typed, else Message. It is ""
// when i is out of range of a typed list (reported by validation).
func (e *Edge) PartMessage(i int) string {
	if !e.Typed() {
		return e.Message
	}
	if i < 0 || i >= len(e.Parts) {
		return ""
	}
	return e.Parts[i]
}

// PartRange returns the source range of the type of the part from the
// i-th input: its element of the message list, or the message attribute.
func (e *Edge) PartRange(i int) hcl.Range {
	if i >= 0 && i < len(e.PartRanges) {
		return e.PartRanges[i]
	}
	return e.MessageRange
}

// Addr returns the node's address, "kind.name", the one form used in
// diagnostics, plans and generated code alike.
func (n *Node) Addr() string { return string(n.Kind) + "." + n.Name }

// Output returns the message type this node emits: the message of the nodes
// it feeds (validation guarantees they agree). It is empty for terminate.
func (n *Node) Output() string {
	if len(n.To) == 0 {
		return ""
	}
	return n.To[0].InputFrom(n)
}

// InputFrom returns the message type n receives from in, one of its from
// nodes: the type of in's part for an aggregate with typed parts, else the
// message type of n's edge. It is "" for a node that is not an input of n.
func (n *Node) InputFrom(in *Node) string {
	if n.Edge == nil {
		return ""
	}
	for i, f := range n.From {
		if f == in {
			return n.Edge.PartMessage(i)
		}
	}
	return ""
}

// Node returns the node with the given address, or nil.
func (g *Graph) Node(addr string) *Node {
	for _, n := range g.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// HasPoll reports whether the graph has a poll node.
func (g *Graph) HasPoll() bool {
	for _, n := range g.Nodes {
		if n.Kind == KindPoll {
			return true
		}
	}
	return false
}
