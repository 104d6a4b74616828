package topology

import (
	"slices"
	"time"
)

// Suffixes of the queues derived from an edge queue Q.
const (
	SuffixRetry = ".retry"
	SuffixDead  = ".dead"
	SuffixPoll  = ".poll"
	SuffixState = ".state"
)

// Suffixes lists every suffix derived queue names end in.
var Suffixes = []string{SuffixRetry, SuffixDead, SuffixPoll, SuffixState}

// The queue types a graph can use.
const (
	Quorum      = "quorum"
	Classic     = "classic"
	DefaultType = Quorum
)

// WorkExchange, RetryExchange and PollExchange return the default names of
// a graph's exchanges.
func WorkExchange(graph string) string  { return graph + ".work" }
func RetryExchange(graph string) string { return graph + ".retry" }
func PollExchange(graph string) string  { return graph + ".poll" }

// TTL returns the delay a queue's message TTL can express: whole
// milliseconds, at least one.
func TTL(d time.Duration) time.Duration {
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

// Params is what Build derives a graph's topology from, whatever language
// described the graph: config.Graph (through plan.TopologyParams) and the
// runtime's Graph both reduce to it.
type Params struct {
	Name          string
	QueueType     string // Quorum or Classic; "" means DefaultType
	WorkExchange  string
	RetryExchange string
	PollExchange  string       // needed only when an edge polls
	Edges         []EdgeParams // in node order
	// Moved are the graph's renamed edge queues (its moved blocks), sorted
	// by From: while one stays, the new queue also takes the old name as
	// routing key (see OldKeyBindings).
	Moved []Move
}

// Move is a renamed edge queue: once From, now To.
type Move struct {
	From, To string
}

// EdgeParams are the parameters of the queue that feeds one node.
type EdgeParams struct {
	Queue       string
	Retry       time.Duration // the retry delay
	MaxAttempts int
	Aggregate   bool          // the node joins parts: its queue has a single active consumer
	Poll        bool          // the node polls: its edge has a delay queue Q.poll
	Gather      bool          // the node gathers a split: its edge has a state queue Q.state
	Interval    time.Duration // a poll node's interval
}

// Role is what a queue does.
type Role string

// The roles of a graph's queues.
const (
	RoleWork  Role = "work"  // Q: a node's input
	RoleRetry Role = "retry" // Q.retry: failed messages wait the retry delay
	RoleDead  Role = "dead"  // Q.dead: parked messages
	RolePoll  Role = "poll"  // Q.poll: a poll node's messages wait the interval
	// RoleState is Q.state: a gather node's durable state (checkpoints of
	// the splits it is gathering), read by its single active consumer. It
	// has no dead-letter exchange, no TTL and no delivery limit: nothing
	// may ever expire or dead-letter a checkpoint.
	RoleState Role = "state"
)

// Queue is one queue of a graph.
type Queue struct {
	Name string
	Role Role
	Edge string // the edge queue Q it derives from (Name itself for RoleWork)
	// DeadLetterExchange is where rejected or expired messages go; "" for
	// parking queues.
	DeadLetterExchange string
	TTL                time.Duration // retry and poll queues: how long a message waits
	SingleActive       bool          // aggregate work queues, gather state queues
	// DeliveryLimit bounds redeliveries of unsettled messages (work queues
	// of quorum graphs); 0 means none.
	DeliveryLimit int
}

// Binding binds a queue to an exchange with a routing key.
type Binding struct {
	Exchange, Queue, Key string
}

// Topology is every object a graph needs, queues in edge order (Q, Q.retry,
// Q.dead, Q.poll, Q.state) and bindings likewise, then the bindings of the
// renamed queues' old keys (OldKeyBindings).
type Topology struct {
	QueueType string
	Work      string // the exchange every output is published to, with its queue as routing key
	Exchanges []string
	Queues    []Queue
	Bindings  []Binding
}

// Quorum reports whether the topology's queues are quorum queues.
func (t Topology) Quorum() bool { return t.QueueType == Quorum }

// Queue returns the queue named name.
func (t Topology) Queue(name string) (Queue, bool) {
	i := slices.IndexFunc(t.Queues, func(q Queue) bool { return q.Name == name })
	if i < 0 {
		return Queue{}, false
	}
	return t.Queues[i], true
}

// EdgeQueues returns the queues derived from edge queue q: Q, Q.retry,
// Q.dead and, for a poll node, Q.poll, for a gather node, Q.state.
func (t Topology) EdgeQueues(q string) []Queue {
	var out []Queue
	for _, x := range t.Queues {
		if x.Edge == q {
			out = append(out, x)
		}
	}
	return out
}

// DeliveryLimit returns the delivery limit of a graph's quorum work queues:
// the largest max_attempts of its edges (0 when there are none). One value
// for every work queue, so that one policy can carry it.
func DeliveryLimit(edges []EdgeParams) int {
	limit := 0
	for _, e := range edges {
		limit = max(limit, e.MaxAttempts)
	}
	return limit
}

// Build returns the objects the graph described by g needs.
func Build(g Params) Topology {
	t := Topology{QueueType: g.QueueType}
	if t.QueueType == "" {
		t.QueueType = DefaultType
	}
	t.Work = g.WorkExchange
	t.Exchanges = []string{g.WorkExchange, g.RetryExchange}
	polls := slices.ContainsFunc(g.Edges, func(e EdgeParams) bool { return e.Poll })
	if polls {
		t.Exchanges = append(t.Exchanges, g.PollExchange)
	}
	limit := 0
	if t.Quorum() {
		limit = DeliveryLimit(g.Edges)
	}
	add := func(q Queue, exchange, key string) {
		t.Queues = append(t.Queues, q)
		t.Bindings = append(t.Bindings, Binding{Exchange: exchange, Queue: q.Name, Key: key})
	}
	for _, e := range g.Edges {
		q := e.Queue
		add(Queue{Name: q, Role: RoleWork, Edge: q, DeadLetterExchange: g.RetryExchange, SingleActive: e.Aggregate, DeliveryLimit: limit}, g.WorkExchange, q)
		add(Queue{Name: q + SuffixRetry, Role: RoleRetry, Edge: q, DeadLetterExchange: g.WorkExchange, TTL: TTL(e.Retry)}, g.RetryExchange, q)
		add(Queue{Name: q + SuffixDead, Role: RoleDead, Edge: q}, g.WorkExchange, q+SuffixDead)
		if e.Poll {
			add(Queue{Name: q + SuffixPoll, Role: RolePoll, Edge: q, DeadLetterExchange: g.WorkExchange, TTL: TTL(e.Interval)}, g.PollExchange, q)
		}
		if e.Gather {
			add(Queue{Name: q + SuffixState, Role: RoleState, Edge: q, SingleActive: true}, g.WorkExchange, q+SuffixState)
		}
	}
	t.Bindings = append(t.Bindings, OldKeyBindings(g)...)
	return t
}

// OldKeyBindings returns the bindings that let a renamed edge queue take
// its old name as routing key while its moved block stays, so that programs
// generated before the rename keep working: they publish their outputs to
// the work exchange with the old name as key (to the new queue Q), and the
// messages they sent dead-letter with that key when rejected (to the retry
// exchange, then to Q.retry), and back to the work exchange after the
// delay. Nothing else of an old program needs the old name: its own
// queue's parked copies, poll re-enqueues and gather checkpoints are
// published by the node that consumes that queue, which must run the new
// program once its queue is renamed. A move whose To is no edge queue of
// g adds nothing.
func OldKeyBindings(g Params) []Binding {
	var out []Binding
	for _, m := range g.Moved {
		if !slices.ContainsFunc(g.Edges, func(e EdgeParams) bool { return e.Queue == m.To }) {
			continue
		}
		out = append(out,
			Binding{Exchange: g.WorkExchange, Queue: m.To, Key: m.From},
			Binding{Exchange: g.RetryExchange, Queue: m.To + SuffixRetry, Key: m.From})
	}
	return out
}

// OldKey reports whether b routes to its queue a key other than the one
// Build derives for it (the queue's own name, or its edge queue's for a
// retry or poll queue): the old name of a renamed queue (OldKeyBindings).
func OldKey(b Binding) bool {
	if b.Key == b.Queue {
		return false
	}
	for _, s := range []string{SuffixRetry, SuffixPoll} {
		if b.Queue == b.Key+s {
			return false
		}
	}
	return true
}

// Arguments returns the queue arguments delivery depends on for q (without
// any ownership stamp): its dead-letter exchange and, on quorum queues, the
// at-least-once dead-letter strategy (which needs overflow reject-publish);
// a single active consumer for aggregate work queues and gather state
// queues. RabbitMQ lets no policy
// override a queue argument, so a foreign policy of a higher priority
// cannot make a rejected message vanish. The delays and the delivery limit
// are not here: they must change in place, which only policies allow.
func Arguments(q Queue, quorum bool) map[string]any {
	args := map[string]any{}
	if q.DeadLetterExchange != "" {
		args["x-dead-letter-exchange"] = q.DeadLetterExchange
		if quorum {
			args["x-dead-letter-strategy"] = "at-least-once"
			args["x-overflow"] = "reject-publish"
		}
	}
	if q.SingleActive {
		args["x-single-active-consumer"] = true
	}
	return args
}
