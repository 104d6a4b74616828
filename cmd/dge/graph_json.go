package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dgehq/dge/config"
)

// graphFormatVersion is the format_version of `dge graph -format json`.
const graphFormatVersion = "1"

// graphJSON is the JSON form of `dge graph -format json`.
type graphJSON struct {
	FormatVersion string          `json:"format_version"`
	Graph         string          `json:"graph"`
	Nodes         []graphJSONNode `json:"nodes"`
	Edges         []graphJSONEdge `json:"edges"`
}

// graphJSONNode is one block of the graph; queue and message are those of
// the edge queue feeding it (absent for start). Over, Zero and Timeout are
// a gather's: the address of the split it closes, its zero function (absent
// when it has none) and how long it waits for a split's items ("1h30m").
// When is, for a node fed by a route, the label of the path it is ("*"
// for the route's default path).
type graphJSONNode struct {
	Address string   `json:"address"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Queue   string   `json:"queue,omitempty"`
	Message string   `json:"message,omitempty"`
	Parts   []string `json:"parts,omitempty"`
	Output  string   `json:"output,omitempty"`
	Handler string   `json:"handler,omitempty"`
	Over    string   `json:"over,omitempty"`
	Zero    string   `json:"zero,omitempty"`
	Timeout string   `json:"timeout,omitempty"`
	When    string   `json:"when,omitempty"`
	From    []string `json:"from"`
	To      []string `json:"to"`
}

// graphJSONEdge is one message flow: From's output into To's queue. Items
// is true on the edges leaving a split, which carry one message per item.
// When is, on an edge leaving a route, the label that takes it ("*" for the
// default path).
type graphJSONEdge struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Queue   string `json:"queue"`
	Message string `json:"message"`
	Items   bool   `json:"items,omitempty"`
	When    string `json:"when,omitempty"`
}

// graphToJSON returns g as indented JSON: nodes in graph order (start to
// terminate), edges grouped by destination in that order, then in the order
// of the destination's `from`, as the dot and Mermaid drawings list them.
func graphToJSON(g *config.Graph) ([]byte, error) {
	out := graphJSON{FormatVersion: graphFormatVersion, Graph: g.Name, Nodes: []graphJSONNode{}, Edges: []graphJSONEdge{}}
	for _, n := range g.Nodes {
		jn := graphJSONNode{
			Address: n.Addr(), Kind: string(n.Kind), Name: n.Name,
			Output: n.Output(), Handler: n.Handler, When: n.When, From: addrs(n.From), To: addrs(n.To),
		}
		if n.Kind == config.KindGather {
			if n.Over != nil {
				jn.Over = n.Over.Addr()
			}
			jn.Zero, jn.Timeout = n.Zero, durationJSON(n.Timeout)
		}
		if n.Edge != nil {
			jn.Queue, jn.Message, jn.Parts = n.Edge.Queue, n.Edge.Message, n.Edge.Parts
			for _, f := range n.From {
				je := graphJSONEdge{From: f.Addr(), To: n.Addr(), Queue: n.Edge.Queue, Message: n.InputFrom(f), Items: f.Kind == config.KindSplit}
				if f.Kind == config.KindRoute {
					je.When = n.When
				}
				out.Edges = append(out.Edges, je)
			}
		}
		out.Nodes = append(out.Nodes, jn)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// durationJSON writes d as a duration the graph language reads, without
// zero trailing units: "1h", "30m", "1h30m", "1m30.5s"; "" for 0.
func durationJSON(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// addrs returns the addresses of ns, never nil so JSON shows [].
func addrs(ns []*config.Node) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Addr())
	}
	return out
}
