package runtime

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Kind is the kind of a node, the HCL block type that declares it.
type Kind string

// Node is one node of a graph bound to its handler. Nodes are built only by
// the constructors Start, Process, FanOut, Aggregate (or Join), Poll,
// Route, Split, Gather (or Fold) and Terminate; the zero Node is invalid.
type Node struct {
	name string
	kind Kind
	in   Edge
	to   []string // destination queues
	from []string // aggregate: upstream node addresses in order
	// parts holds, for an aggregate with typed parts (Join), the type and
	// decoder of the part from each node of from; nil otherwise.
	parts    []Part
	interval time.Duration
	timeout  time.Duration

	// decode turns a body into the node's input type (boxed); validate
	// decodes a start's output type strictly, for publish.
	decode   func(body []byte) (any, error)
	validate func(body []byte) ([]byte, error)

	process   func(ctx context.Context, in any) (any, error)
	aggregate func(ctx context.Context, parts []any) (any, error)
	poll      func(ctx context.Context, in any) (any, bool, error)

	// route calls a route's handler: the label of the path to take.
	route func(ctx context.Context, in any) (string, error)
	// paths maps a route's labels to the queue of each path; fallback is
	// the queue of its default path ("" for none).
	paths    map[string]string
	fallback string

	// split calls a split's handler: the number of items and the i-th.
	split func(ctx context.Context, in any) (n int, item func(i int) any, err error)
	// over names the split a gather closes (the split node's name).
	over string
	// A gather has either gatherList (the list form) or fold, zero and
	// decodeAcc (the fold form); decode reads its items.
	gatherList func(ctx context.Context, items []any) (any, error)
	fold       func(ctx context.Context, acc, item any) (any, error)
	zero       func() any
	decodeAcc  func(body []byte) (any, error)
}

// Name returns the node's HCL name, e.g. "double".
func (n Node) Name() string { return n.name }

// Kind returns the node's kind.
func (n Node) Kind() Kind { return n.kind }

// Addr returns the node's address, "kind.name", e.g. "process.double".
func (n Node) Addr() string { return string(n.kind) + "." + n.name }

// Edge returns the queue that feeds the node (the zero Edge for start).
func (n Node) Edge() Edge { return n.in }

// Command returns the node's name in kebab-case, e.g. "rest-call": the
// subcommand that runs it in a generated program. Graph.Node accepts it.
func (n Node) Command() string { return CommandName(n.name) }

// CommandName returns the subcommand of a generated program that runs the
// node named name: the name in kebab-case ("rest_call" runs as
// "rest-call"). dge run, dge deploy and dge status name and recognise a
// node's processes by it.
func CommandName(name string) string { return strings.ReplaceAll(name, "_", "-") }

// To returns the queues the node publishes to.
func (n Node) To() []string { return append([]string(nil), n.to...) }

// Consumes reports whether the node runs as a consumer process of its own
// (process, fan_out, aggregate, poll, route, split, gather): what RunNodes
// runs.
func (n Node) Consumes() bool {
	switch n.kind {
	case KindProcess, KindFanOut, KindAggregate, KindPoll, KindRoute, KindSplit, KindGather:
		return true
	}
	return false
}

// Start returns the graph's entry node: `publish <name>` sends messages of
// type Out to every queue in to, each message a new run.
func Start[Out any](name string, to ...string) Node {
	return Node{
		name:     name,
		kind:     KindStart,
		to:       to,
		validate: strictJSON[Out],
	}
}

// Process returns a node that calls handler once per message of its edge and
// publishes the result to the queue to.
func Process[In, Out any](name string, in Edge, handler func(context.Context, In) (Out, error), to string) Node {
	return Node{
		name:   name,
		kind:   KindProcess,
		in:     in,
		to:     []string{to},
		decode: decodeJSON[In],
		process: func(ctx context.Context, v any) (any, error) {
			return handler(ctx, v.(In))
		},
	}
}

// FanOut returns a node that copies each message of its edge to every queue
// in to. The body is decoded as T (a body that does not decode is parked)
// and forwarded unchanged.
func FanOut[T any](name string, in Edge, to ...string) Node {
	return Node{
		name:   name,
		kind:   KindFanOut,
		in:     in,
		to:     to,
		decode: decodeJSON[T],
	}
}

// Aggregate returns a node that joins one message from each upstream node in
// from (addresses such as "process.double", in order) for the same run,
// calls handler once with the group in that order and publishes the result
// to the queue to. A group still incomplete after timeout is parked.
func Aggregate[In, Out any](name string, in Edge, from []string, timeout time.Duration,
	handler func(context.Context, []In) (Out, error), to string) Node {
	return Node{
		name:    name,
		kind:    KindAggregate,
		in:      in,
		to:      []string{to},
		from:    append([]string(nil), from...),
		timeout: timeout,
		decode:  decodeJSON[In],
		aggregate: func(ctx context.Context, parts []any) (any, error) {
			ins := make([]In, len(parts))
			for i, p := range parts {
				ins[i] = p.(In)
			}
			return handler(ctx, ins)
		},
	}
}

// Part is one input of an aggregate with typed parts: the node it comes
// from and the Go type of the messages it sends. Build it with PartOf.
type Part struct {
	from    string
	message string
	decode  func(body []byte) (any, error)
}

// PartOf returns the part an aggregate built by Join receives from the node
// at address from (such as "process.reserve"): messages of type T.
func PartOf[T any](from string) Part {
	return Part{from: from, message: typeName[T](), decode: decodeJSON[T]}
}

// From returns the address of the node the part comes from.
func (p Part) From() string { return p.from }

// Join returns an aggregate node whose parts have a type each: it joins one
// message from each node of parts (in order) for the same run, each decoded
// as its Part's type, calls handler once with the group in that order (the
// i-th value is of the i-th Part's type) and publishes the result to the
// queue to. A group still incomplete after timeout is parked. Every part
// travels on the one queue in.Queue; the runtime tells them apart by the
// node that published them.
//
// dge generate calls Join with a handler that passes the parts on to a
// function with one parameter per part:
//
//	func Confirm(ctx context.Context, r Reservation, p Payment) (Confirmation, error)
func Join[Out any](name string, in Edge, parts []Part, timeout time.Duration,
	handler func(ctx context.Context, parts []any) (Out, error), to string) Node {
	from := make([]string, len(parts))
	for i, p := range parts {
		from[i] = p.from
	}
	return Node{
		name:    name,
		kind:    KindAggregate,
		in:      in,
		to:      []string{to},
		from:    from,
		parts:   append([]Part(nil), parts...),
		timeout: timeout,
		aggregate: func(ctx context.Context, parts []any) (any, error) {
			return handler(ctx, parts)
		},
	}
}

// Poll returns a node that checks an external system once per delivery:
// handler returns done=false to check again after interval, or the result
// with done=true, which is published to the queue to. A message still not
// done after timeout is parked.
func Poll[In, Out any](name string, in Edge, interval, timeout time.Duration,
	handler func(context.Context, In) (Out, bool, error), to string) Node {
	return Node{
		name:     name,
		kind:     KindPoll,
		in:       in,
		to:       []string{to},
		interval: interval,
		timeout:  timeout,
		decode:   decodeJSON[In],
		poll: func(ctx context.Context, v any) (any, bool, error) {
			return handler(ctx, v.(In))
		},
	}
}

// Route returns a node that calls handler once per message of its edge and
// publishes the message, unchanged, to exactly one queue: paths[label] for
// the label handler returns, else fallback (the default path; "" when the
// route has none). A label no path takes, without a default, parks the
// message with reason no-route, naming the label, and the run ends with a
// failure record.
func Route[In any](name string, in Edge, handler func(context.Context, In) (string, error), paths map[string]string, fallback string) Node {
	labels := make(map[string]string, len(paths))
	var to []string
	for label, q := range paths {
		labels[label] = q
		if !slices.Contains(to, q) {
			to = append(to, q)
		}
	}
	if fallback != "" && !slices.Contains(to, fallback) {
		to = append(to, fallback)
	}
	slices.Sort(to)
	return Node{
		name:     name,
		kind:     KindRoute,
		in:       in,
		to:       to,
		decode:   decodeJSON[In],
		paths:    labels,
		fallback: fallback,
		route: func(ctx context.Context, v any) (string, error) {
			return handler(ctx, v.(In))
		},
	}
}

// Split returns a node that calls handler once per message of its edge
// and publishes each element of the list it returns as a message of its
// own to the queue to: an item of the split, carrying its run, the split's
// identity (the same for every redelivery of the input), its index and
// the count (see the package doc's Split and gather). Nodes after it work
// per item until the gather that closes it. A handler must return the same
// list for the same input: a redelivered input publishes its items again,
// with the same IDs, and the gather takes each index once. An empty list
// is a split of no items: its gather fires with none.
func Split[In, Item any](name string, in Edge, handler func(context.Context, In) ([]Item, error), to string) Node {
	return Node{
		name:   name,
		kind:   KindSplit,
		in:     in,
		to:     []string{to},
		decode: decodeJSON[In],
		split: func(ctx context.Context, v any) (int, func(int) any, error) {
			items, err := handler(ctx, v.(In))
			return len(items), func(i int) any { return items[i] }, err
		},
	}
}

// Gather returns a node that closes the split named over: once every item
// of a split has arrived it calls handler once, with the items in index
// order, and publishes the result to the queue to, as an item of the
// split around over, if any. Duplicates and redeliveries of an item are
// taken once. The items folded so far are kept durably in the edge's
// state queue (Q.state), so a crash loses none and counts none twice; the
// list form keeps every item there, so it suits splits whose items fit in
// one message of the graph's body limit. A split not complete after
// timeout is parked. Use Fold for big splits.
func Gather[Item, Out any](name string, in Edge, over string, timeout time.Duration,
	handler func(context.Context, []Item) (Out, error), to string) Node {
	return Node{
		name:    name,
		kind:    KindGather,
		in:      in,
		to:      []string{to},
		over:    over,
		timeout: timeout,
		decode:  decodeJSON[Item],
		gatherList: func(ctx context.Context, vs []any) (any, error) {
			items := make([]Item, len(vs))
			for i, v := range vs {
				items[i] = v.(Item)
			}
			return handler(ctx, items)
		},
	}
}

// Fold returns a gather node (see Gather) in the fold form: it folds each
// item of a split into an accumulator as the item arrives, starting from
// zero() (nil: Acc's zero value), and once every item is folded publishes
// the accumulator to the queue to. Its memory is bounded whatever the
// count: it holds one accumulator per open split and the items of the
// last checkpoint interval. Each item is folded exactly once although
// delivery is at least once, but in the order items arrive, not index
// order: the fold must not depend on order (a sum, a count, a merge), and
// handler must return a new accumulator rather than change the one it is
// given (it is given it again after an error).
func Fold[Item, Acc any](name string, in Edge, over string, timeout time.Duration, zero func() Acc,
	handler func(ctx context.Context, acc Acc, item Item) (Acc, error), to string) Node {
	z := func() any {
		if zero == nil {
			var a Acc
			return a
		}
		return zero()
	}
	return Node{
		name:      name,
		kind:      KindGather,
		in:        in,
		to:        []string{to},
		over:      over,
		timeout:   timeout,
		decode:    decodeJSON[Item],
		zero:      z,
		decodeAcc: decodeJSON[Acc],
		fold: func(ctx context.Context, acc, item any) (any, error) {
			return handler(ctx, acc.(Acc), item.(Item))
		},
	}
}

// Terminate returns the graph's exit node: its queue holds results of type T
// for `consume <name>` to read.
func Terminate[T any](name string, in Edge) Node {
	return Node{
		name:   name,
		kind:   KindTerminate,
		in:     in,
		decode: decodeJSON[T],
	}
}

// The node kinds.
const (
	KindStart     Kind = "start"
	KindProcess   Kind = "process"
	KindFanOut    Kind = "fan_out"
	KindAggregate Kind = "aggregate"
	KindPoll      Kind = "poll"
	KindTerminate Kind = "terminate"
	KindRoute     Kind = "route"
	KindSplit     Kind = "split"
	KindGather    Kind = "gather"
)

// Edge is the queue that feeds a node, with the defaults already resolved by
// dge (retry delay, attempts, prefetch, concurrency).
type Edge struct {
	Queue       string        // the work queue Q
	Message     string        // Go type name of the message, for topology output and logs
	Retry       time.Duration // how long a failed message waits in Q.retry
	MaxAttempts int           // attempts before the message is parked in Q.dead
	Prefetch    int           // unacknowledged deliveries per consumer, a fixed window; 0: adaptive (see the package doc)
	Concurrency int           // handler calls in flight per consumer
}
