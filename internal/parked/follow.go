package parked

import (
	"context"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/envelope"
)

// Followers: when a message of run R fails at node N and is parked, the
// aggregates and gathers downstream of N park the parts of R they hold, or
// get later, with reason member-failed: R can never be joined. Redriving
// the failed message alone would leave them parked, and the redriven run
// would wait at the join for its timeout. So Redrive also brings back those
// parts, its followers: the messages parked member-failed, of a run of a
// selected message, in the dead queue of an aggregate or gather downstream
// of the selected message's node.
//
// The followers go back first. A redriven part (x-dge-redriven) of a run
// the join saw fail is taken in again, so the group is open when the
// redriven input's output arrives, and joins. Should the input fail again,
// its new failure notice finds the group open and parks the parts again
// as member-failed, where a redrive can bring them back once more; had
// the input gone first and failed again before the parts came back, the
// join would have discarded the second notice as a duplicate and the
// parts would have waited for the timeout.

// runsByNode is the run IDs of selected messages, by the node that parked
// them.
type runsByNode map[string]map[string]bool

// selectedRuns reads the messages q selects (at most limit, 0: all) and
// returns their runs by node, leaving out those parked member-failed
// (themselves followers of a failure elsewhere) and those without a run.
func (s *Session) selectedRuns(ctx context.Context, q Query, limit int64) (runsByNode, error) {
	runs := runsByNode{}
	edges, err := Edges(s.g, q.Nodes)
	if err != nil {
		return nil, err
	}
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
			run := headerString(d.Headers, envelope.HeaderRunID)
			if run == "" || headerString(d.Headers, envelope.HeaderReason) == string(envelope.MemberFailed) {
				return nil
			}
			if runs[e.Node] == nil {
				runs[e.Node] = map[string]bool{}
			}
			runs[e.Node][run] = true
			return nil
		}})
		total += n
		if err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// follower is a join's dead queue and the runs whose member-failed parts
// follow the selection.
type follower struct {
	edge Edge
	runs map[string]bool
}

// followers returns, for each aggregate and gather downstream of a node
// in runs, its edge and the runs of its upstream nodes' selected messages.
func (s *Session) followers(runs runsByNode) ([]follower, error) {
	down := map[*config.Node][]*config.Node{}
	for _, n := range s.g.Nodes {
		for _, f := range n.From {
			down[f] = append(down[f], n)
		}
	}
	byJoin := map[string]map[string]bool{}
	for _, n := range s.g.Nodes {
		rs := runs[n.Addr()]
		if len(rs) == 0 {
			continue
		}
		seen := map[*config.Node]bool{}
		queue := slices.Clone(down[n])
		for len(queue) > 0 {
			m := queue[0]
			queue = queue[1:]
			if seen[m] {
				continue
			}
			seen[m] = true
			queue = append(queue, down[m]...)
			if m.Kind != config.KindAggregate && m.Kind != config.KindGather {
				continue
			}
			if byJoin[m.Addr()] == nil {
				byJoin[m.Addr()] = map[string]bool{}
			}
			for r := range rs {
				byJoin[m.Addr()][r] = true
			}
		}
	}
	if len(byJoin) == 0 {
		return nil, nil
	}
	var joins []string
	for a := range byJoin {
		joins = append(joins, a)
	}
	edges, err := Edges(s.g, joins)
	if err != nil {
		return nil, err
	}
	out := make([]follower, len(edges))
	for i, e := range edges {
		out[i] = follower{edge: e, runs: byJoin[e.Node]}
	}
	return out, nil
}

// match selects the follower's messages that q does not select itself
// (those go back as part of the selection).
func (f follower) match(q Query) func(amqp.Delivery) bool {
	return func(d amqp.Delivery) bool {
		if headerString(d.Headers, envelope.HeaderReason) != string(envelope.MemberFailed) ||
			!f.runs[headerString(d.Headers, envelope.HeaderRunID)] {
			return false
		}
		return !((len(q.Nodes) == 0 || slices.Contains(q.Nodes, f.edge.Node)) && q.match(d))
	}
}

// Followers counts, by node, the member-failed parts Redrive would bring
// back with the messages q selects (at most limit, 0: all), without
// changing anything.
func (s *Session) Followers(ctx context.Context, q Query, limit int64) ([]Count, int64, error) {
	runs, err := s.selectedRuns(ctx, q, limit)
	if err != nil {
		return nil, 0, err
	}
	fs, err := s.followers(runs)
	if err != nil {
		return nil, 0, err
	}
	var out []Count
	var total int64
	for _, f := range fs {
		n, err := s.m.Parked(ctx, f.edge.Dead, apply.ParkedOptions{Op: apply.ParkedList, Match: f.match(q), Visit: func(d amqp.Delivery) error {
			out = addCount(out, f.edge.Node, string(envelope.MemberFailed))
			return nil
		}})
		total += n
		if err != nil {
			return nil, total, err
		}
	}
	return out, total, nil
}

// redriveFollowers brings back the followers of the messages q selects (at
// most o.Limit of them), calling visit for each, and returns how many.
func (s *Session) redriveFollowers(ctx context.Context, q Query, o Options, visit func(Message) error) (int64, error) {
	runs, err := s.selectedRuns(ctx, q, o.Limit)
	if err != nil {
		return 0, err
	}
	fs, err := s.followers(runs)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range fs {
		opts := apply.ParkedOptions{Op: apply.ParkedRedrive, Match: f.match(q), Rate: o.Rate, Exchange: s.spec.Work, Key: f.edge.Queue}
		if visit != nil {
			opts.Visit = func(d amqp.Delivery) error { return visit(describe(f.edge, d)) }
		}
		n, err := s.m.Parked(ctx, f.edge.Dead, opts)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
