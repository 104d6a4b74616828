package plan

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dgehq/dge/config"
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

// Exchange is an exchange as dge compares it.
type Exchange struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments,omitempty"`
}

// Queue is a queue as dge compares it. Type is the queue type ("classic",
// "quorum", "stream"); Arguments never hold x-queue-type, which Type
// replaces.
type Queue struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments,omitempty"`
}

// Binding is a binding from an exchange to a queue or an exchange.
// DestinationType is "queue" or "exchange".
type Binding struct {
	Source          string         `json:"source"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments,omitempty"`
}

// Policy is a vhost policy.
type Policy struct {
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply_to"`
	Priority   int            `json:"priority"`
	Definition map[string]any `json:"definition"`
}

// Owner says which live objects a graph owns: those stamped with its name,
// and the unstamped queues and exchanges it adopts.
type Owner struct {
	Graph string   `json:"graph"`
	Adopt []string `json:"adopt,omitempty"`
}

// Topology is a set of broker objects in one vhost, each list sorted by
// name (bindings by source, destination, routing key).
type Topology struct {
	Owner     Owner      `json:"owner"`
	Vhost     string     `json:"vhost"`
	Exchanges []Exchange `json:"exchanges"`
	Queues    []Queue    `json:"queues"`
	Bindings  []Binding  `json:"bindings"`
	Policies  []Policy   `json:"policies"`
}

// Desired returns the topology graph g needs (docs/design.md, "The
// topology a graph needs"): the work and retry exchanges (and the poll
// exchange when g has poll nodes); per edge the work queue Q, Q.retry and
// Q.dead (and Q.poll for a poll node), bound as the runtime expects; one
// policy for every work queue and one per distinct retry delay and poll
// interval.
//
// What delivery depends on and never changes is in queue arguments, which
// RabbitMQ lets no policy override: every work queue dead-letters to the
// retry exchange, every retry and poll queue to the work exchange, and on
// quorum queues with x-dead-letter-strategy at-least-once and x-overflow
// reject-publish (see QueueArgs). Only what must change in place is left to
// the policies alone: the retry and poll delays (message-ttl) and the work
// queues' delivery-limit. The policies repeat the dead-letter settings,
// which is harmless: arguments win. Every queue and exchange carries the
// x-dge-graph stamp; aggregate work queues also carry
// x-single-active-consumer, which the runtime's join relies on.
func Desired(g *config.Graph) Topology {
	b := g.Broker
	qtype := string(b.QueueType)
	if qtype == "" {
		qtype = string(config.DefaultQueueType)
	}
	quorum := qtype == string(config.QueueQuorum)
	stamp := func() map[string]any { return map[string]any{GraphArg: g.Name} }

	t := Topology{
		Owner: Owner{Graph: g.Name, Adopt: sortedCopy(b.Adopt)},
		Vhost: b.Vhost,
	}
	exchange := func(name string) {
		t.Exchanges = append(t.Exchanges, Exchange{Name: name, Type: "direct", Durable: true, Arguments: stamp()})
	}
	queue := func(name string, role Role, singleActive bool) {
		args := QueueArgs(role, quorum, b.WorkExchange, b.RetryExchange)
		args[GraphArg] = g.Name
		if singleActive {
			args["x-single-active-consumer"] = true
		}
		t.Queues = append(t.Queues, Queue{Name: name, Type: qtype, Durable: true, Arguments: args})
	}
	bind := func(source, queue, key string) {
		t.Bindings = append(t.Bindings, Binding{Source: source, Destination: queue, DestinationType: "queue", RoutingKey: key})
	}

	exchange(b.WorkExchange)
	exchange(b.RetryExchange)
	if g.HasPoll() {
		exchange(b.PollExchange)
	}

	var work []string
	retry := map[time.Duration][]string{}
	poll := map[time.Duration][]string{}
	maxAttempts := 0
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		q := n.Edge.Queue
		queue(q, RoleWork, n.Kind == config.KindAggregate)
		queue(q+".retry", RoleRetry, false)
		queue(q+".dead", RoleDead, false)
		bind(b.WorkExchange, q, q)
		bind(b.RetryExchange, q+".retry", q)
		bind(b.WorkExchange, q+".dead", q+".dead")
		work = append(work, q)
		d := ttl(n.Edge.Retry)
		retry[d] = append(retry[d], q)
		if n.Kind == config.KindPoll {
			queue(q+".poll", RolePoll, false)
			bind(b.PollExchange, q+".poll", q)
			d := ttl(n.Interval)
			poll[d] = append(poll[d], q)
		}
		maxAttempts = max(maxAttempts, n.Edge.MaxAttempts)
	}

	if len(work) > 0 {
		def := map[string]any{"dead-letter-exchange": b.RetryExchange}
		if quorum {
			def["dead-letter-strategy"] = "at-least-once"
			def["overflow"] = "reject-publish"
			if maxAttempts > 0 {
				def["delivery-limit"] = float64(maxAttempts)
			}
		}
		t.Policies = append(t.Policies, Policy{
			Name: PolicyName(g.Name, "work", 0), Pattern: Pattern(work, ""),
			ApplyTo: PolicyApplyTo, Priority: PolicyPriority, Definition: def,
		})
	}
	delayPolicies := func(role string, groups map[time.Duration][]string) {
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
				Name: PolicyName(g.Name, role, d), Pattern: Pattern(queues, "."+role),
				ApplyTo: PolicyApplyTo, Priority: PolicyPriority, Definition: def,
			})
		}
	}
	delayPolicies("retry", retry)
	delayPolicies("poll", poll)
	t.sort()
	return t
}

// Role is what a queue does in a graph's topology.
type Role string

// The roles of a graph's queues.
const (
	RoleWork  Role = "work"  // Q: a node's input
	RoleRetry Role = "retry" // Q.retry: failed messages wait the retry delay
	RoleDead  Role = "dead"  // Q.dead: parked messages
	RolePoll  Role = "poll"  // Q.poll: a poll node's messages wait the interval
)

// QueueArgs returns the queue arguments delivery depends on for a queue of
// that role (without the x-dge-graph stamp): a work queue dead-letters to
// retryExchange, a retry or poll queue to workExchange, and quorum queues
// do so at least once (x-dead-letter-strategy at-least-once, which needs
// x-overflow reject-publish). RabbitMQ lets no policy override these
// arguments, so a foreign policy of a higher priority than dge's cannot
// make a rejected message vanish. A parking queue needs none. Every reader
// of the topology (dge plan, the runtime's topology command, the tests'
// declare helper) derives its arguments from this rule.
func QueueArgs(role Role, quorum bool, workExchange, retryExchange string) map[string]any {
	args := map[string]any{}
	switch role {
	case RoleWork:
		args["x-dead-letter-exchange"] = retryExchange
	case RoleRetry, RolePoll:
		args["x-dead-letter-exchange"] = workExchange
	default:
		return args
	}
	if quorum {
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
	return args
}

// ttl is the delay a policy's message-ttl can express: whole milliseconds,
// at least one.
func ttl(d time.Duration) time.Duration {
	return max(d.Truncate(time.Millisecond), time.Millisecond)
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

// sort puts every list in its canonical order.
func (t *Topology) sort() {
	sort.Slice(t.Exchanges, func(i, j int) bool { return t.Exchanges[i].Name < t.Exchanges[j].Name })
	sort.Slice(t.Queues, func(i, j int) bool { return t.Queues[i].Name < t.Queues[j].Name })
	sort.Slice(t.Bindings, func(i, j int) bool { return t.Bindings[i].key() < t.Bindings[j].key() })
	sort.Slice(t.Policies, func(i, j int) bool { return t.Policies[i].Name < t.Policies[j].Name })
}
