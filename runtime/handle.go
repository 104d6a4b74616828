package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// handle processes one delivery of a process, fan_out, poll, route or
// split node.
func (s *session) handle(d Delivery) {
	r := s.r
	if r.debug {
		d.received = time.Now()
	}
	r.m.consumed.Add(1)
	r.m.inFlight.Add(1)
	defer r.m.inFlight.Add(-1)
	f, notice := noticeOf(d.Message)
	if d.RunID == "" && !notice {
		// (A notice without a run ID tells no one anything: forwardNotice
		// discards it.)
		d.RunID = s.externalRunID(d)
	}
	if t := r.e.tracer; t != nil {
		d.span = t.startProcess(s.ctx, r, &d)
	}
	attempt, ok := s.admit(d)
	if !ok {
		return
	}
	if notice {
		s.forwardNotice(d, attempt, f)
		return
	}
	if emptySplit(d.Headers) {
		s.forwardEmptySplit(d, attempt)
		return
	}
	in, err := r.n.decodeBody(d.Body, r.maxBody)
	if err != nil {
		s.park(d, attempt, envelope.Decode, fmt.Sprintf("decode %s: %v", r.n.in.Message, err))
		return
	}
	var body []byte // every output's body
	switch r.n.kind {
	case KindProcess:
		out, err := s.call(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, error) { return r.n.process(ctx, in) })
		if err != nil {
			s.fail(d, attempt, err)
			return
		}
		body, err = json.Marshal(out)
		if err != nil {
			s.park(d, attempt, envelope.Permanent, fmt.Sprintf("encode output %T: %v", out, err))
			return
		}
	case KindFanOut:
		body = d.Body
	case KindPoll:
		s.handlePoll(d, attempt, in)
		return
	case KindSplit:
		s.handleSplit(d, attempt, in)
		return
	case KindRoute:
		s.handleRoute(d, attempt, in)
		return
	default:
		s.park(d, attempt, envelope.Permanent, "node kind "+string(r.n.kind)+" does not consume")
		return
	}
	s.publishEach(d, attempt, body)
}

// publishEach publishes body as d's output to every queue the node feeds,
// then hands d to the acker (see publishThenAck).
func (s *session) publishEach(d Delivery, attempt int, body []byte) {
	s.publishTo(d, attempt, body, s.r.n.to)
}

// publishTo publishes body to each queue of queues as an output of d (see
// output), then hands d to the acker.
func (s *session) publishTo(d Delivery, attempt int, body []byte, queues []string) {
	r := s.r
	var one [1]out
	outs := one[:0]
	if len(queues) > 1 {
		outs = make([]out, 0, len(queues))
	}
	for _, to := range queues {
		outs = append(outs, out{exchange: r.e.g.WorkExchange, key: to, msg: s.output(d, to, attempt, body)})
	}
	s.publishThenAck(d, attempt, outs)
}

// forwardEmptySplit passes the empty split marker d (the one message a
// split of no items sends towards its gather) on through a process,
// fan_out, poll, route or split node without calling its handler, as a
// notice is: to the queues a notice takes (Node.passOn), its body empty
// and its x-dge-split frames unchanged, then d is acked.
func (s *session) forwardEmptySplit(d Delivery, attempt int) {
	s.r.log.Debug("forwarding an empty split's marker", "run_id", d.RunID, "message_id", d.MessageID)
	s.publishTo(d, attempt, nil, s.r.n.passOn())
}

// call runs a handler with ctx (see handlerContext), its panic recovered
// as an ordinary error, and its latency observed by outcome (see
// callOutcome).
func (s *session) call(ctx context.Context, f func(ctx context.Context) (any, error)) (v any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
		s.called(ctx, start, err, true)
	}()
	return f(ctx)
}

// callPoll is call for a poll handler, which also says whether the job is
// done: a call that is not is observed as pending.
func (s *session) callPoll(ctx context.Context, f func(ctx context.Context) (any, bool, error)) (v any, done bool, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
		s.called(ctx, start, err, done)
	}()
	return f(ctx)
}

// called observes a handler call that started at start and returned err
// (done: false for a poll job not done).
func (s *session) called(ctx context.Context, start time.Time, err error, done bool) {
	took := time.Since(start)
	s.r.m.observe(s.r.callOutcome(ctx, err, done), took)
	s.win.handled(took)
}

// callOutcome decides what a handler call's return means for its input,
// as its caller will act on it: an error parks the input or retries it by
// parkReason at the attempt handlerContext put in ctx.
func (r *nodeRun) callOutcome(ctx context.Context, err error, done bool) outcome {
	switch {
	case err != nil:
		attempt := 0
		if la, ok := ctx.Value(logAttrsKey{}).(*logAttrs); ok {
			attempt = la.attempt
		}
		if r.parkReason(err, attempt) != "" {
			return outcomePark
		}
		return outcomeRetry
	case !done:
		return outcomePending
	}
	return outcomeOK
}

// handlerContext returns the context of one handler call: the session's,
// carrying span (nil: none) as the parent of the handler's own spans, and
// the node, run ID, message ID (none for an aggregate's group) and attempt
// for the lines the handler logs with it (see contextHandler).
func (s *session) handlerContext(span trace.Span, runID, messageID string, attempt int) context.Context {
	return context.WithValue(spanContext(s.ctx, span), logAttrsKey{}, &logAttrs{node: s.r.addr, runID: runID, messageID: messageID, attempt: attempt})
}

// handled logs, at debug level, how the handling of a delivery ended:
// done (its outputs confirmed, it was acked), pending (a poll job went back
// through Q.poll), retry (rejected for a retry through Q.retry), parked, or
// redeliver (the channel was lost first: the broker redelivers it). span
// (nil: none) traces the delivery. Call it only when r.debug.
func (r *nodeRun) handled(span trace.Span, runID, messageID string, attempt int, received time.Time, outcome string) {
	r.log.DebugContext(spanContext(context.Background(), span), "handled", "run_id", runID, "message_id", messageID, "attempt", attempt,
		"duration", time.Since(received).String(), "outcome", outcome)
}

type out struct {
	exchange, key string
	msg           Message
}

// publishThenAck publishes every output and hands their confirmations to
// the acker, which acks d once all are confirmed and routed, parks it when
// an output was unroutable, and otherwise leaves it to be redelivered (see
// leftToChannel). A publish that fails outright means the channel is gone:
// d is left to the broker to redeliver.
func (s *session) publishThenAck(d Delivery, attempt int, outs []out) {
	s.publishThenAckAnd(d, attempt, outs, nil)
}

// publishThenAckAnd is publishThenAck calling acked (nil: nothing) once d
// is acked: outputs confirmed.
func (s *session) publishThenAckAnd(d Delivery, attempt int, outs []out, acked func()) {
	confs := make([]Confirmation, 0, len(outs))
	for _, o := range outs {
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if errors.Is(err, errUnpublishable) {
			// The transport refused this output, the channel untouched:
			// d's fault, d's alone.
			s.unpublishable(d, attempt, o.key, err, confs)
			return
		}
		if err != nil {
			// The channel is gone (or the shutdown timeout passed): the
			// broker redelivers d.
			endSpan(d.span, err)
			s.r.log.WarnContext(spanContext(s.ctx, d.span), "publish failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
			if s.r.debug {
				s.r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
			}
			return
		}
		confs = append(confs, c)
	}
	// The callbacks capture what they need, not d: capturing d would move
	// every delivery to the heap.
	r, n, runID, messageID, span := s.r, int64(len(outs)), d.RunID, d.MessageID, d.span
	ok := func() { r.m.acked.Add(1); r.m.published.Add(n) }
	switch {
	case r.debug:
		received := d.received
		ok = func() {
			r.m.acked.Add(1)
			r.m.published.Add(n)
			if acked != nil {
				acked()
			}
			r.handled(span, runID, messageID, attempt, received, "done")
		}
	case acked != nil:
		ok = func() { r.m.acked.Add(1); r.m.published.Add(n); acked() }
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		span:  span,
		ok:    ok,
		failed: func(err error, _ bool) {
			r.log.WarnContext(spanContext(context.Background(), span), "output not confirmed; the input will be redelivered", "run_id", runID, "message_id", messageID, "error", err.Error())
		},
		unroutable: true, in: d, attempt: attempt,
	})
}

// unpublishable parks d, one of whose outputs (to queue key) the transport
// refused with err; the outputs published before it (confs) are left to
// their fate, their confirmations taken so that they free the channel's
// publish window.
func (s *session) unpublishable(d Delivery, attempt int, key string, err error, confs []Confirmation) {
	go func() {
		for _, c := range confs {
			_ = c.Wait(s.ctx)
		}
	}()
	s.park(d, attempt, envelope.Permanent, fmt.Sprintf("output to %s: %v", key, err))
}

// fail handles a handler error: park when permanent or out of attempts,
// otherwise reject for a retry through Q.retry.
func (s *session) fail(d Delivery, attempt int, err error) {
	r := s.r
	if d.span != nil {
		d.span.RecordError(err)
		d.span.SetStatus(codes.Error, err.Error())
	}
	if reason := r.parkReason(err, attempt); reason != "" {
		s.park(d, attempt, reason, err.Error())
	} else {
		r.m.retried.Add(1)
		spanEvent(d.span, "retry", attrError.String(err.Error()), attrRetryIn.String(r.n.in.Retry.String()))
		r.log.WarnContext(spanContext(s.ctx, d.span), "handler failed; retrying", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
			"retry_in", r.n.in.Retry.String(), "error", err.Error())
		if r.debug {
			r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "retry")
		}
		s.acker.submit(ackItem{tag: d.Tag, reject: true, span: d.span})
	}
}

// parkReason decides what a handler error at attempt means, for every node
// kind: envelope.Permanent or envelope.MaxAttempts to park the input, ""
// to retry it.
func (r *nodeRun) parkReason(err error, attempt int) envelope.Reason {
	switch {
	case IsPermanent(err):
		return envelope.Permanent
	case r.n.in.MaxAttempts > 0 && attempt >= r.n.in.MaxAttempts:
		return envelope.MaxAttempts
	}
	return ""
}
