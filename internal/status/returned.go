package status

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/runtime"
)

// Returned is a connection of the vhost whose publishes the broker
// returns as unroutable (312 NO_ROUTE): a program publishing to a key no
// queue takes, typically one generated before a queue was renamed or
// removed.
type Returned struct {
	Connection string `json:"connection"`
	// Node is the node whose program holds the connection, when its name
	// says ("<program> <node command>"); "" otherwise.
	Node string `json:"node,omitempty"`
	// Returned counts the messages returned to the connection's channels
	// since they opened; Rate is their rate per second.
	Returned int64   `json:"returned"`
	Rate     float64 `json:"rate"`
}

// noteReturned adds to r the connections of the vhost whose channels had
// publishes returned as unroutable, one problem each, and judges r's
// health again.
func (r *Report) noteReturned(g *config.Graph, channels []mgmt.ChannelStatus) {
	byConn := map[string]*Returned{}
	var order []string
	for _, ch := range channels {
		if ch.ReturnUnroutable == 0 {
			continue
		}
		s, ok := byConn[ch.Connection]
		if !ok {
			s = &Returned{Connection: ch.Connection, Node: connectionNode(g, ch.Connection)}
			byConn[ch.Connection] = s
			order = append(order, ch.Connection)
		}
		s.Returned += ch.ReturnUnroutable
		s.Rate += ch.ReturnUnroutableRate
	}
	slices.Sort(order)
	r.Returned = []Returned{}
	for _, c := range order {
		s := *byConn[c]
		r.Returned = append(r.Returned, s)
		who := fmt.Sprintf("connection %q", s.Connection)
		if s.Node != "" {
			who = fmt.Sprintf("%s (connection %q)", s.Node, s.Connection)
		}
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %s returned unroutable (312 NO_ROUTE, %.1f/s): the program publishes to a key no queue takes, so it is older than the graph (a queue renamed or removed); its inputs are parked with reason unroutable. Run the program generated from the current graph (dge generate), then dge parked redrive",
			who, fmt.Sprint(s.Returned)+" "+config.PluralForm(s.Returned, "publish", "publishes"), s.Rate))
	}
	r.Healthy = len(r.Problems) == 0
}

// connectionNode returns the address of g's node whose program names its
// connection conn ("<program> <command>", the command the node's name in
// kebab case); "" when none does.
func connectionNode(g *config.Graph, conn string) string {
	i := strings.LastIndexByte(conn, ' ')
	if i < 0 {
		return ""
	}
	cmd := conn[i+1:]
	for _, n := range g.Nodes {
		if runtime.CommandName(n.Name) == cmd {
			return n.Addr()
		}
	}
	return ""
}
