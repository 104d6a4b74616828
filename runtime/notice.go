package runtime

import (
	"fmt"

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
	Reason string `json:"reason"` // the park reason: "permanent", "max-attempts", "decode", "timeout", ...
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
	outs := make([]out, 0, len(r.n.to))
	for _, to := range r.n.to {
		outs = append(outs, out{exchange: r.e.g.WorkExchange, key: to, msg: Message{
			MessageID: deriveID(id, nil, r.addr+"#failed", to),
			RunID:     runID,
			Source:    r.addr,
			Attempt:   attempt,
			Headers:   noticeHeaders(f),
		}})
	}
	return outs
}

// forwardNotice passes a failure notice on through a process, fan_out or
// poll node, without calling its handler: one notice per output, then d is
// acked. A notice without a run ID tells no one anything; it is discarded.
func (s *session) forwardNotice(d Delivery, attempt int, f RunFailure) {
	r := s.r
	r.m.notices.Add(1)
	if d.RunID == "" {
		r.log.Warn("failure notice without a run ID discarded", "message_id", d.MessageID, "failed_node", f.Node)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
		return
	}
	r.log.Debug("forwarding failure notice", "run_id", d.RunID, "failed_node", f.Node, "reason", f.Reason)
	s.publishThenAck(d, attempt, r.notices(d.RunID, d.MessageID, attempt, f))
}

// aggNotice takes in a failure notice at an aggregate: the run will never
// be complete, so the parts of it held now are parked with reason
// member-failed, later ones are parked on arrival, and one notice is
// forwarded, the first time only (r.failed). A notice for a run already
// joined or known to have failed is discarded.
func (s *session) aggNotice(d Delivery, attempt int, f RunFailure) {
	r := s.r
	r.m.notices.Add(1)
	discard := func(why string) {
		r.log.Debug("failure notice discarded", "run_id", d.RunID, "message_id", d.MessageID, "why", why)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
	}
	switch {
	case d.RunID == "":
		r.log.Warn("failure notice without a run ID discarded", "message_id", d.MessageID, "failed_node", f.Node)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
		return
	case r.joined.has(d.RunID):
		discard("the run was joined already")
		return
	case r.failed.has(d.RunID):
		discard("a notice of the run was forwarded already")
		return
	}
	r.failed.add(d.RunID)
	if g := s.agg.groups[d.RunID]; g != nil {
		s.aggRelease(g)
		s.aggParkParts(g, "member-failed", memberFailed(d.RunID, f), false)
	}
	s.aggForwardNotice(d, attempt, f)
}

// aggForwardNotice publishes the aggregate's one notice of d's run and
// acks d once it is confirmed.
func (s *session) aggForwardNotice(d Delivery, attempt int, f RunFailure) {
	r := s.r
	runID := d.RunID
	outs := r.notices(runID, "failed:"+runID, attempt, f)
	confs := make([]Confirmation, 0, len(outs))
	for _, o := range outs {
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if err != nil {
			r.log.Warn("publish failed; the notice will be redelivered", "run_id", runID, "error", err.Error())
			r.failed.remove(runID)
			return
		}
		confs = append(confs, c)
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		ok: func() {
			r.m.acked.Add(1)
			r.m.published.Add(int64(len(outs)))
		},
		failed: func(err error) {
			r.log.Warn("notice not confirmed; retrying it", "run_id", runID, "error", err.Error())
			r.failed.remove(runID)
		},
	})
}

// memberFailed is the error text of a part parked because its run failed
// elsewhere.
func memberFailed(runID string, f RunFailure) string {
	s := fmt.Sprintf("run %s failed at %s (%s", runID, f.Node, f.Reason)
	if f.Error != "" {
		s += ": " + f.Error
	}
	return s + "), so this part can never be joined"
}
