package status

import (
	"context"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/diagram"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
)

// FormatVersion is the format_version of a Report's JSON (dge status -json).
const FormatVersion = "1"

// Report is what dge status shows, as text or JSON.
type Report struct {
	FormatVersion string `json:"format_version"`
	Graph         string `json:"graph"`
	Vhost         string `json:"vhost"`
	Endpoint      string `json:"management_endpoint"`
	Edges         []Row  `json:"edges"`
	// Returned are the connections whose publishes the broker returns as
	// unroutable (see noteReturned).
	Returned []Returned `json:"returned"`
	// Problems are the reasons the graph needs attention, one sentence
	// each ending with what to do; none when Healthy.
	Problems []string `json:"problems"`
	Healthy  bool     `json:"healthy"`
}

// Row is one edge: the queue Q that feeds a node, with its Q.retry,
// Q.dead and Q.poll.
type Row struct {
	Node string `json:"node"`
	// When is, for a path of a route, the label the path takes ("*" for
	// the route's default path); the table shows it after the node.
	When      string `json:"when,omitempty"`
	Queue     string `json:"queue"`
	Missing   bool   `json:"missing"` // Q does not exist on the broker
	Ready     int64  `json:"ready"`
	Unacked   int64  `json:"unacked"`
	Consumers int64  `json:"consumers"`
	// ConsumerUtilisation is the broker's fraction (0 to 1) of time Q
	// could deliver at once; null when it gives none.
	ConsumerUtilisation *float64 `json:"consumer_utilisation"`
	PublishRate         float64  `json:"publish_rate"` // msgs/s into Q
	DeliverRate         float64  `json:"deliver_rate"` // msgs/s out of Q
	Retrying            int64    `json:"retrying"`     // messages in Q.retry and Q.poll
	Parked              int64    `json:"parked"`       // messages in Q.dead
	// Stranded counts the messages held in the dead-letter buffers
	// (messages_dlx) of the edge's queues, left out of the other counts.
	Stranded int64 `json:"stranded"`
	// OldestReadyAge is the age in seconds of Q's oldest ready message;
	// null where the broker gives no timestamp (quorum queues).
	OldestReadyAge *int64 `json:"oldest_ready_age_seconds"`
	// ForeignPolicies maps each of the edge's queues that a policy other
	// than dge's governs to that policy.
	ForeignPolicies map[string]string `json:"foreign_policies,omitempty"`
	// OperatorPolicies maps each of the edge's queues that an operator
	// policy applies to to that operator policy.
	OperatorPolicies map[string]string `json:"operator_policies,omitempty"`
	// State is, for a gather, its state queue Q.state; nil for every other
	// node.
	State *State `json:"state,omitempty"`
	// Terminate reports whether the edge feeds a terminate node, whose
	// results wait for a reader: no consumer there is no problem. Not in
	// the JSON.
	Terminate bool `json:"-"`

	// strandedIn names the queues holding Stranded.
	strandedIn []string
}

// State is a gather's state queue Q.state: the checkpoints of the
// splits it is gathering, and the gather's instances, which all consume it
// and of which the broker makes one the single active consumer.
type State struct {
	Queue   string `json:"queue"`
	Missing bool   `json:"missing"` // Q.state does not exist on the broker
	// Checkpoints counts Q.state's messages, ready and unacknowledged: the
	// checkpoints and the markers the gather's instances exchange.
	Checkpoints int64 `json:"checkpoints"`
	// Consumers counts the gather's instances that consume Q.state; one of
	// them is active.
	Consumers int64 `json:"consumers"`
}

// Read reads the graph's status: the queue statistics, and the live
// state dge plan reads, whose policies it judges with plan's own rule
// (plan.CheckPolicies) so that plan and status agree. It makes three
// requests (queues, the plan's read, channels) and returns the first
// error, as the management client words it.
func Read(ctx context.Context, client *mgmt.Client, g *config.Graph) (*Report, error) {
	queues, err := client.QueueStatus(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	snap, err := client.Read(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	channels, err := client.ChannelStatus(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	r := Build(g, queues, plan.CheckPolicies(plan.Desired(g), snap), time.Now())
	r.noteReturned(g, channels)
	r.Endpoint = client.Endpoint()
	return r, nil
}

// Build turns the vhost's queue statistics into one row per edge of g, in
// graph order, and judges the graph's health: the rows' problems and the
// errors among policies, plan.CheckPolicies's diagnostics. now dates the
// oldest ready message. The Report's Endpoint is left empty.
func Build(g *config.Graph, queues []mgmt.QueueStatus, policies []plan.Diagnostic, now time.Time) *Report {
	live := make(map[string]mgmt.QueueStatus, len(queues))
	for _, q := range queues {
		live[q.Name] = q
	}
	spec := topology.Build(plan.TopologyParams(g))
	r := &Report{FormatVersion: FormatVersion, Graph: g.Name, Vhost: g.Broker.Vhost, Edges: []Row{}, Returned: []Returned{}, Problems: []string{}}
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		row := Row{Node: n.Addr(), When: n.When, Queue: n.Edge.Queue, Terminate: n.Kind == config.KindTerminate}
		missing := row.fill(g.Name, spec.EdgeQueues(n.Edge.Queue), live, now)
		r.Problems = append(r.Problems, row.problems(missing)...)
		r.Edges = append(r.Edges, row)
	}
	r.Problems = append(r.Problems, policyProblems(policies)...)
	r.Healthy = len(r.Problems) == 0
	return r
}

// fill sets the row's counts from the live statistics of the edge's
// queues and returns the names of those missing on the broker.
func (row *Row) fill(graph string, queues []topology.Queue, live map[string]mgmt.QueueStatus, now time.Time) []string {
	var missing []string
	for _, q := range queues {
		if q.Role == topology.RoleState {
			row.State = &State{Queue: q.Name}
		}
		s, ok := live[q.Name]
		if !ok {
			missing = append(missing, q.Name)
			switch q.Role {
			case topology.RoleWork:
				row.Missing = true
			case topology.RoleState:
				row.State.Missing = true
			}
			continue
		}
		row.notePolicies(graph, q.Name, s)
		if s.DeadLetterBuffered > 0 {
			row.Stranded += s.DeadLetterBuffered
			row.strandedIn = append(row.strandedIn, q.Name)
		}
		held := max(s.Messages-s.DeadLetterBuffered, 0)
		switch q.Role {
		case topology.RoleWork:
			row.Ready, row.Unacked, row.Consumers = s.Ready, s.Unacknowledged, s.Consumers
			row.ConsumerUtilisation = s.ConsumerUtilisation
			row.PublishRate, row.DeliverRate = s.PublishRate, s.DeliverRate
			if s.Ready > 0 && !s.HeadMessageTimestamp.IsZero() {
				age := max(int64(now.Sub(s.HeadMessageTimestamp)/time.Second), 0)
				row.OldestReadyAge = &age
			}
		case topology.RoleRetry, topology.RolePoll:
			row.Retrying += held
		case topology.RoleDead:
			row.Parked += held
		case topology.RoleState:
			row.State.Checkpoints, row.State.Consumers = held, s.Consumers
		}
	}
	return missing
}

// notePolicies records the foreign policy and the operator policy the
// listing shows applied to queue q of the row's edge.
func (row *Row) notePolicies(graph, q string, s mgmt.QueueStatus) {
	if s.Policy != "" && !plan.OwnsPolicy(graph, s.Policy) {
		if row.ForeignPolicies == nil {
			row.ForeignPolicies = map[string]string{}
		}
		row.ForeignPolicies[q] = s.Policy
	}
	if s.OperatorPolicy != "" {
		if row.OperatorPolicies == nil {
			row.OperatorPolicies = map[string]string{}
		}
		row.OperatorPolicies[q] = s.OperatorPolicy
	}
}

// Diagram returns the counts dge graph -status draws, by edge queue.
func (r *Report) Diagram() diagram.Status {
	s := diagram.Status{}
	for _, row := range r.Edges {
		s[row.Queue] = diagram.EdgeStatus{
			Ready: row.Ready, Retrying: row.Retrying, Parked: row.Parked,
			Consumers: row.Consumers, Missing: row.Missing,
		}
	}
	return s
}
