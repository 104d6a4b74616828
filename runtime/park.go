package runtime

import (
	"errors"
	"time"

	"github.com/dgehq/dge/topology"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func (s *session) park(d Delivery, attempt int, reason, errText string) {
	s.parkWith(d, attempt, reason, errText, parkOpts{notify: true, report: true})
}

// parkOpts says what parking a message does besides parking it.
type parkOpts struct {
	// notify sends a failure notice of the message's run on every output
	// of the node, confirmed before the message is acked.
	notify bool
	// report calls the graph's on_failure once the park is confirmed.
	report bool
}

// parkWith parks d as park does, doing what o says besides.
func (s *session) parkWith(d Delivery, attempt int, reason, errText string, o parkOpts) {
	r := s.r
	q := r.n.in.Queue
	if t := r.e.tracer; t != nil && d.span == nil {
		// An aggregate's part has no span of its own until it is parked.
		d.span = t.startProcess(s.ctx, r, &d)
	}
	if d.span != nil {
		d.span.SetAttributes(attrAttempt.Int(attempt))
		d.span.AddEvent("park", trace.WithAttributes(
			attrReason.String(reason), attrError.String(errText),
			attrDeadQueue.String(q+topology.SuffixDead)))
		d.span.SetStatus(codes.Error, "parked ("+reason+"): "+errText)
	}
	ctx := spanContext(s.ctx, d.span)
	errText = clipText(errText)
	h := make(map[string]any, len(d.Headers)+4)
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = reason
	h[HeaderError] = errText
	h[HeaderNode] = r.n.Addr()
	m := d.Message
	m.Headers = h
	m.Attempt = attempt
	if d.span != nil {
		// A redriven copy continues the run's trace under the park.
		carry(d.span, &m)
	}
	r.log.ErrorContext(ctx, "parking message", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
		"reason", reason, "error", errText, "dead_queue", q+topology.SuffixDead)
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, q+topology.SuffixDead, m)
	if errors.Is(err, errUnpublishable) {
		// Never expected (admit checked d): park the body with the
		// parking headers alone rather than leave d unsettled.
		r.log.ErrorContext(ctx, "parked copy refused; parking it without its other headers", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		m.Headers = map[string]any{HeaderReason: reason, HeaderError: errText, HeaderNode: h[HeaderNode]}
		c, err = s.ch.Publish(s.ctx, r.e.g.WorkExchange, q+topology.SuffixDead, m)
	}
	confs := []Confirmation{c}
	runID := d.RunID
	notify := o.notify && runID != "" && len(r.n.to) > 0
	if notify && r.n.kind == KindAggregate && r.failed.has(runID) {
		notify = false // this aggregate sent the run's one notice already
	}
	if err == nil && notify {
		// The run is over: say so downstream, before d is settled.
		f := RunFailure{Node: r.addr, Reason: reason, Error: errText}
		if nf, ok := noticeOf(d.Message); ok {
			f = nf // a notice that could not be passed on passes on its own failure
		}
		id := d.MessageID
		if r.n.kind == KindAggregate {
			id = "failed:" + runID // one notice per run, however many parts
			r.failed.add(runID)
		}
		for _, o := range r.notices(runID, id, attempt, f) {
			// The notice continues the run's trace under the park.
			continueTrace(d.span, d.Message, &o.msg)
			var nc Confirmation
			if nc, err = s.ch.Publish(s.ctx, o.exchange, o.key, o.msg); err != nil {
				break
			}
			confs = append(confs, nc)
		}
	}
	aggNotify := notify && r.n.kind == KindAggregate
	if err != nil {
		if aggNotify {
			r.failed.remove(runID)
		}
		endSpan(d.span, err)
		r.log.WarnContext(ctx, "park failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		if r.debug {
			r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
		}
		return
	}
	f := Failure{
		Node: r.n.Addr(), Queue: q, RunID: d.RunID, MessageID: d.MessageID, Attempt: attempt,
		Reason: reason, Error: errText, Body: preview(d.Body), BodySize: len(d.Body),
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		span:  d.span,
		ok: func() {
			r.m.parked.Add(1)
			f.ParkedAt = time.Now().UTC()
			if r.debug {
				r.handled(d.span, f.RunID, f.MessageID, attempt, d.received, "parked")
			}
			if o.report {
				r.e.onFailure(ctx, f)
			}
		},
		failed: func(err error) {
			if aggNotify {
				r.failed.remove(runID)
			}
			r.log.ErrorContext(ctx, "parked copy not confirmed; rejecting for a retry", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		},
	})
}
