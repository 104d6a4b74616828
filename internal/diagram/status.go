package diagram

import (
	"fmt"

	"github.com/dgehq/dge/config"
)

// EdgeStatus is the live state of one edge, as `dge status` reads it.
type EdgeStatus struct {
	Ready     int64 // ready messages in the edge's queue Q
	Retrying  int64 // messages waiting in Q.retry (and Q.poll)
	Parked    int64 // messages in Q.dead
	Consumers int64 // consumers of Q
	Missing   bool  // Q does not exist on the broker
}

// Status holds the live state of a graph's edges by edge queue name.
type Status map[string]EdgeStatus

// noConsumer is the line a marked node carries.
const noConsumer = "no consumer"

// NoConsumer reports whether the diagram marks n: a node that consumes a
// queue (every kind but start and terminate, whose results wait for a
// reader) whose queue s holds, exists and has no consumer.
func (s Status) NoConsumer(n *config.Node) bool {
	if n.Edge == nil || n.Kind == config.KindTerminate {
		return false
	}
	c, ok := s[n.Edge.Queue]
	return ok && !c.Missing && c.Consumers == 0
}

// edgeCounts returns the counts the arrow into n carries: its queue's,
// when that queue is fed by that arrow alone. The queue of a node fed by
// several arrows (an aggregate's one queue) has its counts drawn once, on
// the node (see nodeLines), so that no count reads twice.
func (s Status) edgeCounts(n *config.Node) (EdgeStatus, bool) {
	c, ok := s[n.Edge.Queue]
	if !ok || len(n.From) > 1 {
		return EdgeStatus{}, false
	}
	return c, true
}

// nodeLines returns the lines of n's label: its name, then, for a node
// whose queue several arrows feed, the queue's name and counts, then
// "no consumer" when s marks it; red reports counts that call for red
// (something parked, or the queue missing).
func (s Status) nodeLines(n *config.Node) (lines []string, red bool) {
	lines = []string{label(n)}
	if n.Edge != nil && len(n.From) > 1 {
		if c, ok := s[n.Edge.Queue]; ok {
			lines = append(lines, n.Edge.Queue+": "+c.label())
			red = c.Parked > 0 || c.Missing
		}
	}
	if s.NoConsumer(n) {
		lines = append(lines, noConsumer)
	}
	return lines, red
}

// label is the line of counts an edge carries.
func (c EdgeStatus) label() string {
	if c.Missing {
		return "queue missing"
	}
	return fmt.Sprintf("ready %d · retrying %d · parked %d", c.Ready, c.Retrying, c.Parked)
}
