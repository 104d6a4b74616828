package runtime

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dgehq/dge/topology"
)

// Graph is a dge graph as a generated program sees it: its broker names and
// its nodes, each bound to the user's handler. dge generate writes one as a
// package-level variable and passes it to package cli's Main.
type Graph struct {
	Name          string         // the graph's label, e.g. "arith"
	Source        string         // relative path of the graph's source, for messages
	Vhost         string         // the RabbitMQ vhost, e.g. "/"
	WorkExchange  string         // "<graph>.work": every output is published here with routing key = queue
	RetryExchange string         // "<graph>.retry": work queues dead-letter here
	PollExchange  string         // "<graph>.poll"; "" when the graph has no poll node
	QueueType     string         // "quorum" or "classic"; "" means quorum
	OnFailure     FailureHandler // called after a message is parked; nil when none
	// MaxBody is the largest body, in bytes, a node decodes; a larger one
	// is parked with reason decode. 0 means DefaultMaxBody.
	MaxBody int
	Nodes   []Node
	// Moved maps the old name of each queue renamed by a moved block to its
	// new name: while the block stays, the new queue also takes the old
	// name as routing key (topology.OldKeyBindings). nil when none.
	Moved map[string]string
}

// DeliveryLimit returns the delivery-limit dge apply writes into the policy
// of the graph's quorum work queues: the largest MaxAttempts of its edges
// (0 when there are none). The broker dead-letters a message delivered more
// often than that without being settled.
func (g Graph) DeliveryLimit() int {
	return topology.DeliveryLimit(g.topologyParams().Edges)
}

// topologyParams returns what package topology needs of g.
func (g Graph) topologyParams() topology.Params {
	tg := topology.Params{
		Name: g.Name, QueueType: g.QueueType,
		WorkExchange: g.WorkExchange, RetryExchange: g.RetryExchange, PollExchange: g.PollExchange,
	}
	for _, n := range g.Nodes {
		if n.kind == KindStart {
			continue
		}
		tg.Edges = append(tg.Edges, topology.EdgeParams{
			Queue: n.in.Queue, Retry: n.in.Retry, MaxAttempts: n.in.MaxAttempts,
			Aggregate: n.kind == KindAggregate, Poll: n.kind == KindPoll, Interval: n.interval,
			Gather: n.kind == KindGather,
		})
	}
	for from, to := range g.Moved {
		tg.Moved = append(tg.Moved, topology.Move{From: from, To: to})
	}
	slices.SortFunc(tg.Moved, func(a, b topology.Move) int { return strings.Compare(a.From, b.From) })
	return tg
}

// Spec returns the objects g needs on its broker (exchanges, queues and
// bindings, as package topology derives them and dge apply creates them):
// what a transport that holds the topology itself, such as package memory's
// broker, builds.
func (g Graph) Spec() topology.Topology {
	return topology.Build(g.topologyParams())
}

// Check rejects a Graph that was not built by dge generate's constructors.
func (g Graph) Check() error {
	if g.WorkExchange == "" || g.RetryExchange == "" {
		return errors.New("WorkExchange and RetryExchange must be set")
	}
	seen := map[string]bool{}
	for i, n := range g.Nodes {
		if n.kind == "" || n.name == "" {
			return fmt.Errorf("node %d was not built by a constructor (Start, Process, ...)", i)
		}
		if seen[CommandName(n.name)] {
			return fmt.Errorf("two nodes share the command %q", CommandName(n.name))
		}
		seen[CommandName(n.name)] = true
		if n.kind != KindStart && n.in.Queue == "" {
			return fmt.Errorf("%s has no queue", n.Addr())
		}
		if n.kind == KindPoll && g.PollExchange == "" {
			return fmt.Errorf("%s is a poll node but the graph has no PollExchange", n.Addr())
		}
		if n.kind == KindAggregate && len(n.from) < 2 {
			return fmt.Errorf("%s joins %d inputs; an aggregate needs at least 2", n.Addr(), len(n.from))
		}
		if err := g.checkSplitGather(n); err != nil {
			return err
		}
		if err := checkRoute(n); err != nil {
			return err
		}
	}
	return nil
}

// checkSplitGather checks a split or gather node n of g: the functions its
// constructor sets, and the split a gather closes.
func (g Graph) checkSplitGather(n Node) error {
	switch n.kind {
	case KindSplit:
		if n.split == nil || n.decode == nil || len(n.to) != 1 {
			return fmt.Errorf("%s was not built by Split", n.Addr())
		}
	case KindGather:
		list := n.gatherList != nil
		fold := n.fold != nil && n.zero != nil && n.decodeAcc != nil
		if n.decode == nil || list == fold || len(n.to) != 1 {
			return fmt.Errorf("%s was not built by Gather or Fold", n.Addr())
		}
		if n.over == "" {
			return fmt.Errorf("%s names no split to close (over)", n.Addr())
		}
		for _, m := range g.Nodes {
			if m.name == n.over {
				if m.kind != KindSplit {
					return fmt.Errorf("%s closes %q, a %s node; over must name a split node", n.Addr(), n.over, m.kind)
				}
				return nil
			}
		}
		return fmt.Errorf("%s closes the split %q, which is not a node of the graph", n.Addr(), n.over)
	}
	return nil
}

// checkRoute checks a route node n: built by Route, with at least one path
// or a default path, each label a label HCL's when allows.
func checkRoute(n Node) error {
	if n.kind != KindRoute {
		return nil
	}
	if n.route == nil || n.decode == nil {
		return fmt.Errorf("%s was not built by Route", n.Addr())
	}
	if len(n.paths) == 0 && n.fallback == "" {
		return fmt.Errorf("%s has no path: give it at least one path (a node with from = %s and a when) or a default path (when = %q)",
			n.Addr(), n.Addr(), routeDefault)
	}
	labels := make([]string, 0, len(n.paths))
	for l := range n.paths {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	for _, l := range labels {
		switch {
		case l == "" || l == routeDefault:
			return fmt.Errorf("%s has a path with the label %q; a path's label is a non-empty string other than %q (the default path is Route's fallback)",
				n.Addr(), l, routeDefault)
		case n.paths[l] == "":
			return fmt.Errorf("%s: the path of label %q has no queue", n.Addr(), l)
		}
	}
	return nil
}

// TopologyText renders the exchanges, queues and bindings graph g expects on
// its broker (package topology's derivation, which dge plan uses too), one
// object per line, in node order. Dead-lettering is a queue argument (no
// policy can turn it off; on quorum queues at-least-once, with overflow
// reject-publish); the delays and the delivery limit are in dge's policies,
// which dge apply changes in place.
func (g Graph) TopologyText() string {
	spec := g.Spec()
	nodes := map[string]Node{}
	for _, n := range g.Nodes {
		if n.kind != KindStart {
			nodes[n.in.Queue] = n
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "# graph %q, vhost %q, %s queues\n", g.Name, g.Vhost, spec.QueueType)
	for _, x := range spec.Exchanges {
		fmt.Fprintf(tw, "exchange\t%s\tdirect, durable\n", x)
	}
	for _, q := range spec.Queues {
		var what string
		switch q.Role {
		case topology.RoleWork:
			n := nodes[q.Name]
			what = fmt.Sprintf("work queue of %s, message %s", n.Addr(), n.in.Message)
		case topology.RoleRetry:
			what = fmt.Sprintf("retry queue, ttl %s (policy)", q.TTL)
		case topology.RoleDead:
			what = "parking queue"
		case topology.RolePoll:
			what = fmt.Sprintf("poll delay queue, ttl %s (policy)", q.TTL)
		case topology.RoleState:
			what = "gather state queue (checkpoints)"
		}
		if q.DeadLetterExchange != "" {
			what += fmt.Sprintf(", dead-letters to %s (argument)", q.DeadLetterExchange)
		}
		if q.DeliveryLimit > 0 {
			what += fmt.Sprintf(", delivery limit %d (policy)", q.DeliveryLimit)
		}
		if q.SingleActive {
			what += ", single active consumer"
		}
		fmt.Fprintf(tw, "queue\t%s\t%s\n", q.Name, what)
	}
	for _, bd := range spec.Bindings {
		fmt.Fprintf(tw, "binding\t%s -> %s\tkey %s\n", bd.Exchange, bd.Queue, bd.Key)
	}
	_ = tw.Flush()
	return b.String()
}

// Node returns the node named s: its name, its command (kebab-case) or its
// address.
func (g Graph) Node(s string) (Node, bool) {
	for _, n := range g.Nodes {
		if CommandName(n.name) == s || n.name == s || n.Addr() == s {
			return n, true
		}
	}
	return Node{}, false
}

// newRun returns a new run ID and the messages that start it: body, already
// checked against the start node's type, for every queue start feeds.
func (g *Graph) newRun(start Node, body []byte) (runID string, outs []out) {
	runID = newRunID()
	for _, to := range start.to {
		outs = append(outs, out{exchange: g.WorkExchange, key: to, msg: Message{
			Body: body, MessageID: deriveID(runID, nil, start.Addr(), to), RunID: runID, Source: start.Addr(), Attempt: 1,
		}})
	}
	return runID, outs
}
