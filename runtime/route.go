package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dgehq/dge/envelope"
)

// A route node (Route) sends each message down exactly one of its paths:
// the one whose label its handler returns, else its default path. What
// concerns every path alike (a failure notice, an empty split marker, the
// notice of the route's own park) goes down one path only, its notice
// path (see noticePath), so that paths which merge again deliver it once.

// routeDefault is the label of a route's default path in metrics, as in
// HCL (when = "*").
const routeDefault = "*"

// pathOf returns the queue of the path a route takes for label, and the
// path's label in metrics (label itself, or routeDefault for the default
// path); "" when no path takes label and the route has no default.
func (n Node) pathOf(label string) (queue, when string) {
	if q, ok := n.paths[label]; ok {
		return q, label
	}
	if n.fallback != "" {
		return n.fallback, routeDefault
	}
	return "", ""
}

// routeLabels returns the labels a route's paths take, sorted, the
// default's ("*") last.
func (n Node) routeLabels() []string {
	labels := make([]string, 0, len(n.paths)+1)
	for l := range n.paths {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	if n.fallback != "" {
		labels = append(labels, routeDefault)
	}
	return labels
}

// noticePath returns the queue of a route's notice path: its default path,
// else the path of its first label in sorted order. A run that failed (or
// whose split was empty) before its route chose goes on down that path
// alone, as a run the handler sent there would: so it reaches one
// terminate node, and a gather or merge after the paths gets its notice or
// marker once, not once per path.
func (n Node) noticePath() string {
	if n.fallback != "" {
		return n.fallback
	}
	first := ""
	for l := range n.paths {
		if first == "" || l < first {
			first = l
		}
	}
	return n.paths[first]
}

// onePath returns, of outs (one per queue the node feeds), those a notice
// or an empty split marker takes: for a route, the one to its notice path;
// for any other node, all of them.
func (r *nodeRun) onePath(outs []out) []out {
	if r.n.kind != KindRoute {
		return outs
	}
	q := r.n.noticePath()
	for _, o := range outs {
		if o.key == q {
			return []out{o}
		}
	}
	return nil
}

// noRouteError is the error of a message parked because its route's
// handler returned label, which no path takes and the route has no
// default path.
func (n Node) noRouteError(label string) string {
	takes := make([]string, 0, len(n.paths))
	for _, l := range n.routeLabels() {
		takes = append(takes, fmt.Sprintf("%q", l))
	}
	return fmt.Sprintf("label %q is taken by no path of %s (it takes %s): add a path with when = %q, or a default path with when = %q",
		label, n.Addr(), strings.Join(takes, ", "), label, routeDefault)
}

// handleRoute calls route node's handler on in, decoded from d, and
// publishes d's body unchanged to the path of the label it returns, with
// the IDs and headers of any node's output (its x-dge-split frames, so an
// item stays an item of its split); d is acked once the output is
// confirmed. A label no path takes, with no default path, parks d with
// reason no-route, its failure notice going down the notice path.
func (s *session) handleRoute(d Delivery, attempt int, in any) {
	r := s.r
	v, err := s.call(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, error) { return r.n.route(ctx, in) })
	if err != nil {
		s.fail(d, attempt, err)
		return
	}
	label := v.(string)
	to, when := r.n.pathOf(label)
	if d.span != nil {
		d.span.SetAttributes(attrRouteLabel.String(label), attrRouteTo.String(to))
	}
	if to == "" {
		s.park(d, attempt, envelope.NoRoute, r.n.noRouteError(label))
		return
	}
	taken := r.m.routeTaken[when]
	s.publishThenAckAnd(d, attempt, []out{{exchange: r.e.g.WorkExchange, key: to, msg: s.output(d, to, attempt, d.Body)}},
		func() { taken.Add(1) })
}

// forwardRouteNotice passes failure notice d (of a run: d.RunID is set)
// on through a route, without calling its handler, as forwardNotice does
// for other nodes, but down the route's notice path only: the run failed
// before the route chose a path, and the paths may merge again, where one
// notice per path would be one failure record per path at a terminate.
func (s *session) forwardRouteNotice(d Delivery, attempt int, f RunFailure) {
	r := s.r
	r.m.notices.Add(1)
	r.log.Debug("forwarding failure notice down the route's notice path", "run_id", d.RunID, "failed_node", f.Node, "reason", f.Reason,
		"path", r.n.noticePath())
	s.publishThenAck(d, attempt, r.onePath(r.noticesOf(d.Headers, d.RunID, d.MessageID, attempt, f)))
}
