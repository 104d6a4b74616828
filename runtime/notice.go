package runtime

import (
	"log/slog"

	"github.com/dgehq/dge/envelope"
)

// A failure notice says that a run failed upstream: a message of the run
// was parked at some node X. It travels X's output edges like a result,
// with an empty body and the HeaderFailed* headers, so that every node
// downstream learns that the run is over instead of waiting for it:
// process, fan_out and poll nodes forward it without calling their
// handler; an aggregate parks the parts of the run it holds, or receives
// later, with reason member-failed and forwards one notice; a terminate
// queue receives it as the run's failure record (see RunFailure). A notice
// is published, and confirmed, before the delivery that caused it is
// settled, so a crash can duplicate it but never lose it; duplicates are
// harmless (an aggregate forwards one notice per run).

// The headers of a failure notice. HeaderFailedNode marks a message as one.
const (
	HeaderFailedNode   = envelope.HeaderFailedNode   // failure notices: address of the node where the run's message was parked
	HeaderFailedReason = envelope.HeaderFailedReason // failure notices: the park reason there (permanent, max-attempts, ...)
	HeaderFailedError  = envelope.HeaderFailedError  // failure notices: the error text there
)

// RunFailure says where and why a run failed: the node that parked a
// message of the run, the reason and the error, as a failure notice
// carries them to the graph's terminate nodes.
type RunFailure struct {
	Node   string `json:"node"`   // address of the node that parked the message, e.g. "process.charge"
	Reason string `json:"reason"` // the park reason there, an envelope.Reason: "permanent", "max-attempts", ...
	Error  string `json:"error"`  // the error's text, if any
}

// noticeOf returns the failure a delivery carries, and false when it is an
// ordinary message.
func noticeOf(m Message) (RunFailure, bool) {
	node, ok := m.Headers[HeaderFailedNode].(string)
	if !ok || node == "" {
		return RunFailure{}, false
	}
	f := RunFailure{Node: node}
	f.Reason, _ = m.Headers[HeaderFailedReason].(string)
	f.Error, _ = m.Headers[HeaderFailedError].(string)
	return f, true
}

// noticeHeaders returns the headers of a notice of f.
func noticeHeaders(f RunFailure) map[string]any {
	return map[string]any{HeaderFailedNode: f.Node, HeaderFailedReason: f.Reason, HeaderFailedError: f.Error}
}

// notices returns the notices of f for run runID that node r publishes to
// each of its outputs, their IDs derived from id (stable across
// redeliveries, so a duplicate notice has the same ID).
func (r *nodeRun) notices(runID, id string, attempt int, f RunFailure) []out {
	return r.noticesOf(nil, runID, id, attempt, f)
}

// noticesOf returns the notices of f (see notices) about a message with
// headers h, which carry h's x-dge-split: the frames of the item whose
// failure they report, so that the gather that closes its split learns
// which split failed.
func (r *nodeRun) noticesOf(h map[string]any, runID, id string, attempt int, f RunFailure) []out {
	frames, inSplit := h[HeaderSplit]
	queues := r.n.passOn()
	outs := make([]out, 0, len(queues))
	for _, to := range queues {
		nh := noticeHeaders(f)
		if inSplit {
			nh[HeaderSplit] = frames
		}
		outs = append(outs, out{exchange: r.e.g.WorkExchange, key: to, msg: Message{
			MessageID: deriveID(id, nil, r.addr+"#failed", to),
			RunID:     runID,
			Source:    r.addr,
			Attempt:   attempt,
			Headers:   nh,
		}})
	}
	return outs
}

// forwardNotice passes a failure notice on through a process, fan_out,
// poll, route or split node, without calling its handler: one notice per
// queue a notice takes (Node.passOn: every output, or a route's notice
// path alone), its x-dge-split frames unchanged, then d is acked. A
// notice without a run ID tells no one anything; it is discarded.
func (s *session) forwardNotice(d Delivery, attempt int, f RunFailure) {
	r := s.r
	r.m.notices.Add(1)
	if d.RunID == "" {
		r.log.Warn("failure notice without a run ID discarded", "message_id", d.MessageID, "failed_node", f.Node)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
		return
	}
	r.log.Debug("forwarding failure notice", "run_id", d.RunID, "failed_node", f.Node, "reason", f.Reason)
	s.publishThenAck(d, attempt, r.noticesOf(d.Headers, d.RunID, d.MessageID, attempt, f))
}

// discardNotice logs a failure notice without a run ID that reached
// terminate node n: it tells no one which run failed, so it is no failure
// record, and it is acknowledged and dropped, as the nodes before drop it.
func discardNotice(log *slog.Logger, n Node, d Delivery, f RunFailure) {
	log.Warn("failure notice without a run ID discarded", "node", n.Addr(), "message_id", d.MessageID, "failed_node", f.Node)
}
