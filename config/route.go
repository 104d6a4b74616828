package config

import (
	"github.com/hashicorp/hcl/v2"
)

// Route and merge: a route's handler names a label, and the message goes
// down the one path whose when is that label (or the default path, when =
// "*"); a process or terminate whose from lists several nodes merges
// paths, each message passing on alone.

// mergeKinds are the kinds whose from may list several nodes to merge
// their paths.
var mergeKinds = map[Kind]bool{KindProcess: true, KindTerminate: true}

// whenKinds are the kinds a route can feed, and so the kinds that take a
// when. An aggregate cannot be one path of a route: it would wait for
// parts from the paths a run did not take.
var whenKinds = map[Kind]bool{KindProcess: true, KindFanOut: true, KindPoll: true, KindSplit: true, KindTerminate: true}

// buildWhen reads the label of the route's path a node is: a string, "*"
// for the route's default path. Whether the node is fed by a route at all
// is checked once the graph is linked (checkRoutes).
func (s *state) buildWhen(d *nodeDecl, n *Node) {
	attr, ok := d.attrs["when"]
	if !ok {
		return
	}
	n.WhenRange = attr.Expr.Range()
	if v, ok := s.evalChecked(attr, "when", "Invalid when", whenProblem); ok {
		n.When = v
	}
}

// whenProblem describes what is wrong with a when label, or returns "".
func whenProblem(v string) string {
	if v == "" {
		return `when names the label of the route's path this node is, the string the route's handler returns to send a message here; it cannot be empty. Write the label, such as when = "invoice", or when = "*" for the route's default path.`
	}
	return ""
}

// isRouteFed reports whether n's from names a route.
func isRouteFed(n *Node) bool {
	for _, f := range n.From {
		if f.Kind == KindRoute {
			return true
		}
	}
	return false
}

var _ = hcl.Range{}
