package parked

import (
	"context"
	"fmt"
	"slices"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/envelope"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
)

// Query selects parked messages. Each field, when not empty, keeps only
// the messages matching one of its values; an empty Query selects every
// parked message of the graph.
type Query struct {
	Nodes   []string // node addresses (process.double)
	Reasons []string // envelope.Reason values
	Runs    []string // run IDs
}

// match reports whether d's reason and run are selected (the node is
// selected by the dead queue read).
func (q Query) match(d amqp.Delivery) bool {
	return (len(q.Reasons) == 0 || slices.Contains(q.Reasons, headerString(d.Headers, envelope.HeaderReason))) &&
		(len(q.Runs) == 0 || slices.Contains(q.Runs, headerString(d.Headers, envelope.HeaderRunID)))
}

// CheckReasons returns an error naming the first of q.Reasons that is no
// reason dge parks a message for.
func (q Query) CheckReasons() error {
	for _, r := range q.Reasons {
		if !slices.Contains(envelope.Reasons(), envelope.Reason(r)) {
			return fmt.Errorf("%q is no reason dge parks a message for; give one of %s", r, ReasonList())
		}
	}
	return nil
}

// ReasonList returns the park reasons, comma-separated.
func ReasonList() string {
	rs := envelope.Reasons()
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Edge is one edge of the graph: the node it feeds, its work queue and its
// dead queue.
type Edge struct {
	Node, Queue, Dead string
}

// Edges returns the graph's edges, only those of nodes when nodes is not
// empty; an address that names no node with an input queue is an error
// naming the valid ones.
func Edges(g *config.Graph, nodes []string) ([]Edge, error) {
	spec := topology.Build(plan.TopologyParams(g))
	var out []Edge
	var valid []string
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		valid = append(valid, n.Addr())
		if len(nodes) > 0 && !slices.Contains(nodes, n.Addr()) {
			continue
		}
		for _, q := range spec.EdgeQueues(n.Edge.Queue) {
			if q.Role == topology.RoleDead {
				out = append(out, Edge{Node: n.Addr(), Queue: n.Edge.Queue, Dead: q.Name})
			}
		}
	}
	for _, a := range nodes {
		if !slices.ContainsFunc(out, func(e Edge) bool { return e.Node == a }) {
			return nil, fmt.Errorf("%s: no such node with an input queue in graph %s; valid: %s", a, g.Name, strings.Join(valid, ", "))
		}
	}
	return out, nil
}

// Session runs the operations on one graph's parked messages through one
// AMQP connection to its vhost.
type Session struct {
	g    *config.Graph
	m    *apply.Mover
	spec topology.Topology
}

// NewSession returns a Session on graph g through m, which the caller
// closes when done.
func NewSession(g *config.Graph, m *apply.Mover) *Session {
	return &Session{g: g, m: m, spec: topology.Build(plan.TopologyParams(g))}
}

// List calls visit, in queue order, for each parked message q selects, and
// returns how many. Every message stays parked, in its place.
func (s *Session) List(ctx context.Context, q Query, visit func(Message) error) (int64, error) {
	edges, err := Edges(s.g, q.Nodes)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range edges {
		n, err := s.m.Parked(ctx, e.Dead, apply.ParkedOptions{Op: apply.ParkedList, Match: q.match, Visit: func(d amqp.Delivery) error {
			return visit(describe(e, d))
		}})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Count is how many selected messages one node holds for one reason.
type Count struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
	N      int64  `json:"count"`
}

// Count counts the messages q selects by node and reason, at most limit in
// all (0: no bound), without changing anything, and returns the counts in
// the order met and their total.
func (s *Session) Count(ctx context.Context, q Query, limit int64) ([]Count, int64, error) {
	edges, err := Edges(s.g, q.Nodes)
	if err != nil {
		return nil, 0, err
	}
	var out []Count
	var total int64
	for _, e := range edges {
		if limit > 0 && total >= limit {
			break
		}
		var rest int64
		if limit > 0 {
			rest = limit - total
		}
		n, err := s.m.Parked(ctx, e.Dead, apply.ParkedOptions{Op: apply.ParkedList, Match: q.match, Limit: rest, Visit: func(d amqp.Delivery) error {
			out = addCount(out, e.Node, headerString(d.Headers, envelope.HeaderReason))
			return nil
		}})
		total += n
		if err != nil {
			return nil, total, err
		}
	}
	return out, total, nil
}

// addCount counts one more message of node parked for reason in cs.
func addCount(cs []Count, node, reason string) []Count {
	i := slices.IndexFunc(cs, func(c Count) bool { return c.Node == node && c.Reason == reason })
	if i < 0 {
		cs = append(cs, Count{Node: node, Reason: reason})
		i = len(cs) - 1
	}
	cs[i].N++
	return cs
}

// Options bounds a redrive or purge.
type Options struct {
	// Limit bounds how many messages are acted on; 0 is no bound.
	Limit int64
	// Rate paces the operation to at most this many messages a second; 0
	// is no pacing.
	Rate float64
}

// Redrive moves the messages q selects back to their edge's queue with
// fresh attempts (see apply.Mover.Parked and apply.RedriveHeaders), after
// their followers (see Followers: the member-failed parts of their runs
// at the joins downstream, which o.Limit does not bound), calling visit
// for each once it is published. It returns how many messages of the
// selection and how many followers it moved; on error, how many before.
func (s *Session) Redrive(ctx context.Context, q Query, o Options, visit func(Message) error) (selected, followers int64, err error) {
	followers, err = s.redriveFollowers(ctx, q, o, visit)
	if err != nil {
		return 0, followers, err
	}
	selected, err = s.act(ctx, apply.ParkedRedrive, q, o, visit)
	return selected, followers, err
}

// Purge deletes the messages q selects, calling visit for each once it is
// deleted, and returns how many it deleted.
func (s *Session) Purge(ctx context.Context, q Query, o Options, visit func(Message) error) (int64, error) {
	return s.act(ctx, apply.ParkedPurge, q, o, visit)
}

func (s *Session) act(ctx context.Context, op apply.ParkedOp, q Query, o Options, visit func(Message) error) (int64, error) {
	edges, err := Edges(s.g, q.Nodes)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range edges {
		if o.Limit > 0 && total >= o.Limit {
			break
		}
		opts := apply.ParkedOptions{Op: op, Match: q.match, Rate: o.Rate, Exchange: s.spec.Work, Key: e.Queue}
		if visit != nil {
			opts.Visit = func(d amqp.Delivery) error { return visit(describe(e, d)) }
		}
		if o.Limit > 0 {
			opts.Limit = o.Limit - total
		}
		n, err := s.m.Parked(ctx, e.Dead, opts)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
