package status

import (
	"fmt"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
)

// problems returns why the edge needs attention, each with what to do;
// missing names the edge's queues absent from the broker.
func (row Row) problems(missing []string) []string {
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s: %s missing on the broker: run dge apply",
			row.Node, queueList(missing)))
	}
	if row.Parked > 0 {
		them := config.PluralForm(row.Parked, "it", "them")
		out = append(out, fmt.Sprintf("%s: %s parked in %s: dge parked list -node %s says why; once the cause is fixed, move %s back to %s with dge parked redrive -node %s",
			row.Node, messages(row.Parked), row.Queue+topology.SuffixDead, row.Node, them, row.Queue, row.Node))
	}
	switch {
	case row.StateUnheld():
		out = append(out, fmt.Sprintf("%s: %s wait on %s and no instance of the gather consumes its state queue %s, so none can gather: start the node's program",
			row.Node, messages(row.Ready), row.Queue, row.State.Queue))
	case row.Unconsumed():
		out = append(out, fmt.Sprintf("%s: %s wait on %s and nothing consumes it: start the node's program",
			row.Node, messages(row.Ready+row.Unacked+row.Retrying), row.Queue))
	}
	if row.Stranded > 0 {
		out = append(out, fmt.Sprintf("%s: %s stranded in the dead-letter buffer of %s (messages_dlx): RabbitMQ could not dead-letter them, typically a dead-letter cycle that an operator policy's message-ttl or delivery-limit sends round from a queue to its retry queue and back; no consumer reaches them there, so dge can neither process nor park them, and they stay after the cause is gone (deleting the queue discards them). Run dge plan to find the policy and fix it so that no more are stranded",
			row.Node, messages(row.Stranded), queueList(row.strandedIn)))
	}
	return out
}

// policyProblems returns a problem for each error among the policy
// diagnostics of plan.CheckPolicies.
func policyProblems(policies []plan.Diagnostic) []string {
	var out []string
	for _, d := range policies {
		if d.Severity == plan.SeverityError {
			out = append(out, fmt.Sprintf("%s: run dge plan for what it disables and the fix", d.Summary))
		}
	}
	return out
}

// StateUnheld reports whether the row is a gather's whose edge has ready
// messages while no instance consumes its state queue: the instance that
// gathers is elected through Q.state, so nothing will.
func (row Row) StateUnheld() bool {
	return row.State != nil && !row.Missing && !row.State.Missing && row.State.Consumers == 0 && row.Ready > 0
}

// Unconsumed reports whether the edge holds messages (ready, unacked or
// retrying) and its node has no consumer; a terminate edge never is, its
// results wait for a reader.
func (row Row) Unconsumed() bool {
	return !row.Terminate && !row.Missing && row.Consumers == 0 && row.Ready+row.Unacked+row.Retrying > 0
}

func messages(n int64) string { return config.Plural(n, "message") }

// queueList names queues: "queue a" or "queues a, b".
func queueList(names []string) string {
	return config.PluralForm(len(names), "queue", "queues") + " " + strings.Join(names, ", ")
}
