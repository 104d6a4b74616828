package config

import (
	"sort"
	"strings"
)

// buildMoved evaluates the moved blocks and checks them against the
// graph's edge queues: from and to are valid queue names, to is an edge
// queue of the graph, from is not, and no queue is moved twice.
func (s *state) buildMoved(nodes []*nodeDecl) []Moved {
	queues := map[string]string{} // edge queue -> node address
	for _, d := range nodes {
		if d.node != nil && d.node.Edge != nil && d.node.Edge.Queue != "" {
			queues[d.node.Edge.Queue] = d.addr()
		}
	}
	names := make([]string, 0, len(queues))
	for q := range queues {
		names = append(names, q)
	}
	sort.Strings(names)
	var out []Moved
	seen := map[string]Moved{}
	for _, md := range s.moved {
		fromAttr, toAttr := md.attrs["from"], md.attrs["to"]
		if fromAttr == nil || toAttr == nil {
			continue // reported where it was decoded
		}
		m := Moved{DeclRange: md.declRange, FromRange: fromAttr.Expr.Range(), ToRange: toAttr.Expr.Range()}
		from, okFrom := s.evalChecked(fromAttr, "from", "Invalid queue name", queueNameProblem)
		to, okTo := s.evalChecked(toAttr, "to", "Invalid queue name", queueNameProblem)
		if !okFrom || !okTo || queueNameProblem(from) != "" || queueNameProblem(to) != "" {
			continue
		}
		m.From, m.To = from, to
		ok := true
		if addr, isEdge := queues[from]; isEdge {
			s.errorf(m.FromRange.Ptr(), "Moved source still in the graph",
				"The queue %q feeds %s, so it cannot also be the old name of a renamed queue. Set from to the queue's old name, or remove the moved block.", from, addr)
			ok = false
		}
		if _, isEdge := queues[to]; !isEdge && len(queues) > 0 {
			s.errorf(m.ToRange.Ptr(), "Moved destination not in the graph",
				"No node's queue is %q; the queues of the graph are: %s. Set to the new name of the renamed queue.", to, strings.Join(names, ", "))
			ok = false
		}
		if prev, dup := seen[from]; dup {
			s.errorf(m.FromRange.Ptr(), "Duplicate moved source",
				"The queue %q is already moved to %q at %s; its messages can go to one queue only. Remove one of the moved blocks.", from, prev.To, prev.DeclRange)
			ok = false
		}
		if ok {
			out = append(out, m)
			seen[from] = m
		}
	}
	return out
}
