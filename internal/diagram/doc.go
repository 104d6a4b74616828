// Package diagram draws a config.Graph as Graphviz dot or as a Mermaid
// flowchart.
//
// Output is deterministic: nodes appear in the graph's (topological) order,
// edges in the order of their destination node, then of its `from`, and
// nothing depends on
// time, paths or map order, so `dge generate` can commit the same bytes as
// graph.dot and graph.mmd. Each node is labelled "kind name" and drawn with a
// shape of its own kind; each edge is labelled with the queue that carries it
// and the message type on it, marked "(items)" when it leaves a split (one
// message per item). An edge from a route says first which label takes
// it: "when LABEL", or "otherwise" for the route's default path; a merge
// is several arrows into one node. A dashed arrow labelled "gathers" runs from each split
// to the gather that closes it; it carries no messages.
//
// DotStatus and MermaidStatus draw the same picture annotated with the live
// counts dge status reads (a Status): ready, retrying and parked messages
// on each edge, and the nodes without a consumer marked. A gather's state
// queue (Q.state) is no edge and is not drawn.
//
// NewLayout places the same graph on a plane for a drawing of its own (the
// console's SVG): a Layout of boxes and polylines in pixels, layered left
// to right, as plain data with JSON names, deterministic as the rest.
package diagram
