package plan

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/topology"
)

// GraphArg is the queue and exchange argument that stamps an object as
// owned by a graph. RabbitMQ stores it but leaves it out of the equivalence
// check on redeclaration, so it is written once, at creation.
const GraphArg = "x-dge-graph"

// The policy settings dge writes.
const (
	// PolicyPriority is the priority of every dge policy. Only the highest
	// priority policy applies to a queue, so dge's policies win over a
	// user's own policy of a lower priority on the same queues; operator
	// policies still apply.
	PolicyPriority = 100
	// PolicyApplyTo is the apply-to of every dge policy.
	PolicyApplyTo = "queues"
)

// Desired returns the objects graph g needs (docs/design.md, "The
// topology a graph needs"): the objects package topology
// derives from its edges (exchanges; per edge Q, Q.retry, Q.dead, Q.poll
// for a poll node and Q.state for a gather node; their bindings), each
// queue and exchange stamped with x-dge-graph, plus dge's policies: one for
// every work queue and one per distinct retry delay and poll interval.
//
// What delivery depends on and never changes is in queue arguments, which
// RabbitMQ lets no policy override (topology.Arguments): every work queue
// dead-letters to the retry exchange, every retry and poll queue to the work
// exchange, on quorum queues with x-dead-letter-strategy at-least-once and
// x-overflow reject-publish; aggregate work queues have a single active
// consumer, which the runtime's join relies on, and so do gather state
// queues (Q.state), which hold the gather's checkpoints. No dge policy
// matches a state queue (each pattern is anchored to its role's names): the
// work queues' delivery-limit and dead-letter settings must never reach a
// checkpoint. Only what must change in place is left to the policies
// alone: the retry and poll delays (message-ttl) and the work queues'
// delivery-limit. The policies repeat the dead-letter settings, which is
// harmless: arguments win.
func Desired(g *config.Graph) Objects {
	b := g.Broker
	spec := topology.Build(TopologyParams(g))
	quorum := spec.Quorum()
	stamp := func() map[string]any { return map[string]any{GraphArg: g.Name} }

	t := Objects{
		Owner: Owner{Graph: g.Name, Adopt: sortedCopy(b.Adopt)},
		Vhost: b.Vhost,
	}
	for _, x := range spec.Exchanges {
		t.Exchanges = append(t.Exchanges, Exchange{Name: x, Type: "direct", Durable: true, Arguments: stamp()})
	}
	var work []string
	delays := map[topology.Role]map[time.Duration][]string{topology.RoleRetry: {}, topology.RolePoll: {}}
	limit := 0
	for _, q := range spec.Queues {
		args := topology.Arguments(q, quorum)
		args[GraphArg] = g.Name
		t.Queues = append(t.Queues, Queue{Name: q.Name, Type: spec.QueueType, Durable: true, Arguments: args})
		switch q.Role {
		case topology.RoleWork:
			work = append(work, q.Name)
			limit = max(limit, q.DeliveryLimit)
		case topology.RoleRetry, topology.RolePoll:
			delays[q.Role][q.TTL] = append(delays[q.Role][q.TTL], q.Edge)
		}
	}
	for _, bd := range spec.Bindings {
		t.Bindings = append(t.Bindings, Binding{Source: bd.Exchange, Destination: bd.Queue, DestinationType: "queue", RoutingKey: bd.Key})
	}

	if len(work) > 0 {
		def := map[string]any{"dead-letter-exchange": b.RetryExchange}
		if quorum {
			def["dead-letter-strategy"] = "at-least-once"
			def["overflow"] = "reject-publish"
			if limit > 0 {
				def["delivery-limit"] = float64(limit)
			}
		}
		t.Policies = append(t.Policies, Policy{
			Name: PolicyName(g.Name, "work", 0), Pattern: Pattern(work, ""),
			ApplyTo: PolicyApplyTo, Priority: PolicyPriority, Definition: def,
		})
	}
	for role, groups := range delays {
		for d, queues := range groups {
			def := map[string]any{
				"message-ttl":          float64(d.Milliseconds()),
				"dead-letter-exchange": b.WorkExchange,
			}
			if quorum {
				def["dead-letter-strategy"] = "at-least-once"
				def["overflow"] = "reject-publish"
			}
			t.Policies = append(t.Policies, Policy{
				Name: PolicyName(g.Name, string(role), d), Pattern: Pattern(queues, "."+string(role)),
				ApplyTo: PolicyApplyTo, Priority: PolicyPriority, Definition: def,
			})
		}
	}
	t.Moves = moves(g, spec)
	t.sort()
	return t
}

// moves lists the queue renames of g's moved blocks: the edge queue and
// each of its companions (Q.retry, Q.dead, Q.poll, Q.state) that the new
// edge has too. A retry or poll message is published to its exchange with the new
// edge queue as routing key, so that when its wait ends it dead-letters to
// the new queue; it waits the full delay again.
func moves(g *config.Graph, spec topology.Topology) []QueueMove {
	var out []QueueMove
	for _, m := range g.Moved {
		for _, q := range spec.EdgeQueues(m.To) {
			mv := QueueMove{From: m.From + strings.TrimPrefix(q.Name, m.To), To: q.Name}
			switch q.Role {
			case topology.RoleRetry:
				mv.Exchange, mv.RoutingKey = g.Broker.RetryExchange, m.To
			case topology.RolePoll:
				mv.Exchange, mv.RoutingKey = g.Broker.PollExchange, m.To
			}
			out = append(out, mv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out
}

// TopologyParams returns what package topology needs of g: its name, queue
// type, exchanges, in node order the edge of every node that has one, and
// its moved blocks.
func TopologyParams(g *config.Graph) topology.Params {
	b := g.Broker
	tg := topology.Params{
		Name: g.Name, QueueType: string(b.QueueType),
		WorkExchange: b.WorkExchange, RetryExchange: b.RetryExchange,
	}
	if g.HasPoll() {
		tg.PollExchange = b.PollExchange
	}
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		tg.Edges = append(tg.Edges, topology.EdgeParams{
			Queue: n.Edge.Queue, Retry: n.Edge.Retry, MaxAttempts: n.Edge.MaxAttempts,
			Aggregate: n.Kind == config.KindAggregate, Poll: n.Kind == config.KindPoll, Interval: n.Interval,
			Gather: n.Kind == config.KindGather,
		})
	}
	for _, m := range g.Moved {
		tg.Moved = append(tg.Moved, topology.Move{From: m.From, To: m.To})
	}
	sort.Slice(tg.Moved, func(i, j int) bool { return tg.Moved[i].From < tg.Moved[j].From })
	return tg
}

// PolicyName returns the name of a graph's policy for a role ("work",
// "retry", "poll"); delay roles carry the delay: dge.arith.retry.10s.
func PolicyName(graph, role string, delay time.Duration) string {
	if role == "work" {
		return "dge." + graph + ".work"
	}
	return "dge." + graph + "." + role + "." + CompactDuration(delay)
}

// ownedPolicy matches the part of a policy name after "dge.<graph>." that
// dge writes.
var ownedPolicy = regexp.MustCompile(`^(?:work|(?:retry|poll)\.[0-9a-zµ]+)$`)

// OwnsPolicy reports whether a policy of that name belongs to graph.
func OwnsPolicy(graph, name string) bool {
	rest, ok := strings.CutPrefix(name, "dge."+graph+".")
	return ok && ownedPolicy.MatchString(rest)
}

// Pattern returns the anchored policy pattern that matches exactly the
// queues named base+suffix: ^(?:a|b)\.retry$, names sorted and escaped.
func Pattern(bases []string, suffix string) string {
	names := sortedCopy(bases)
	for i, n := range names {
		names[i] = regexp.QuoteMeta(n)
	}
	return `^(?:` + strings.Join(names, "|") + `)` + regexp.QuoteMeta(suffix) + `$`
}

// CompactDuration formats d without zero units: 10s, 1m30s, 500ms, 2h.
func CompactDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	units := []struct {
		size time.Duration
		name string
	}{
		{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"},
		{time.Millisecond, "ms"}, {time.Microsecond, "us"}, {time.Nanosecond, "ns"},
	}
	var sb strings.Builder
	for _, u := range units {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&sb, "%d%s", n, u.name)
			d -= n * u.size
		}
	}
	return sb.String()
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
