package runtime

import (
	"fmt"

	"github.com/dgehq/dge/envelope"
)

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
		s.aggParkParts(g, envelope.MemberFailed, memberFailed(d.RunID, f), false)
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
		failed: func(err error, redelivered bool) {
			r.log.Warn("notice not confirmed; "+failedFate(redelivered, "it", "retrying it"), "run_id", runID, "error", err.Error())
			r.failed.remove(runID)
		},
	})
}

// aggClaimNotice claims the run's one failure notice for a part the
// aggregate parks (see parkNotices): ok is false when the aggregate sent
// it already, or is sending it (r.failed); otherwise the run is marked
// failed, id is the notice's, the same whichever part carries it, and
// release unmarks the run should the park fail.
func (s *session) aggClaimNotice(runID string) (id string, release func(), ok bool) {
	r := s.r
	if r.failed.has(runID) {
		return "", nil, false
	}
	r.failed.add(runID)
	return "failed:" + runID, func() { r.failed.remove(runID) }, true
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
