package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgehq/dge/envelope"
	"github.com/dgehq/dge/topology"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Parking: a message the runtime gives up on is published, as a copy with
// the reason (an envelope.Reason) and the error in its headers, to its
// edge's dead queue Q.dead, and acked once the copy is confirmed; then the
// graph's on_failure is called. If the copy is not confirmed, the message
// comes back, redelivered (see leftToChannel) or, when the copy was
// returned unroutable, rejected for a retry, so nothing is lost.
// newParked builds the copy and publishParked publishes it, for every node
// kind (session.park) and for the results the consume command and Local
// read (parkResult).

// deadQueue returns the dead queue of edge queue q.
func deadQueue(q string) string { return q + topology.SuffixDead }

// parked is the parked copy of a delivery, ready to publish.
type parked struct {
	msg     Message
	node    string // address of the node that parks it
	queue   string // the edge queue it came from
	reason  envelope.Reason
	errText string // clipped to fit a header
}

// newParked returns the copy of d that node parks from edge queue q with
// reason and errText after attempt attempts: d's headers with the parking
// headers added (reason, error, node, and the time: envelope.HeaderParkedAt), and, when d is traced (d.span), the park recorded on its
// span and the copy continuing its trace, so that a redriven copy
// continues the run's trace under the park.
func newParked(d Delivery, node, q string, attempt int, reason envelope.Reason, errText string) parked {
	p := parked{node: node, queue: q, reason: reason, errText: clipText(errText)}
	if d.span != nil {
		d.span.AddEvent("park", trace.WithAttributes(
			attrReason.String(string(reason)), attrError.String(p.errText),
			attrDeadQueue.String(deadQueue(q))))
		d.span.SetStatus(codes.Error, "parked ("+string(reason)+"): "+p.errText)
	}
	h := make(map[string]any, len(d.Headers)+3)
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = string(reason)
	h[HeaderError] = p.errText
	h[HeaderNode] = node
	h[envelope.HeaderParkedAt] = parkedAt()
	p.msg = d.Message
	p.msg.Headers = h
	p.msg.Attempt = attempt
	if d.span != nil {
		carry(d.span, &p.msg)
	}
	return p
}

// parkedAt returns the value of envelope.HeaderParkedAt for a copy parked
// now: the time in RFC 3339, UTC, to the millisecond.
func parkedAt() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// publishParked publishes p to its dead queue through exchange on ch.
// Should the transport refuse the copy (never expected: admit checked the
// delivery's headers), it publishes the body with the parking headers
// alone rather than leave the delivery unsettled.
func publishParked(ctx context.Context, ch Channel, exchange string, log *slog.Logger, p parked) (Confirmation, error) {
	c, err := ch.Publish(ctx, exchange, deadQueue(p.queue), p.msg)
	if errors.Is(err, errUnpublishable) {
		log.ErrorContext(ctx, "parked copy refused; parking it without its other headers", "run_id", p.msg.RunID, "message_id", p.msg.MessageID, "error", err.Error())
		m := p.msg
		m.Headers = map[string]any{HeaderReason: string(p.reason), HeaderError: p.errText, HeaderNode: p.node,
			envelope.HeaderParkedAt: p.msg.Headers[envelope.HeaderParkedAt]}
		c, err = ch.Publish(ctx, exchange, deadQueue(p.queue), m)
	}
	return c, err
}

// failure returns what the graph's on_failure learns of p, a copy of d
// parked now.
func (p parked) failure(d Delivery) Failure {
	return Failure{
		Node: p.node, Queue: p.queue, RunID: d.RunID, MessageID: d.MessageID, Attempt: p.msg.Attempt,
		Reason: string(p.reason), Error: p.errText, Body: preview(d.Body), BodySize: len(d.Body), ParkedAt: time.Now().UTC(),
	}
}

// park parks d, which a node gave up on after attempt attempts, with
// reason and errText, sending a failure notice of its run downstream and
// calling on_failure (see parkWith).
func (s *session) park(d Delivery, attempt int, reason envelope.Reason, errText string) {
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

// parkWith parks d as park does, doing what o says besides: it publishes
// the parked copy and the notices, and hands their confirmations to the
// acker, which acks d once all are confirmed.
func (s *session) parkWith(d Delivery, attempt int, reason envelope.Reason, errText string, o parkOpts) {
	r := s.r
	if t := r.e.tracer; t != nil && d.span == nil {
		// An aggregate's part has no span of its own until it is parked.
		d.span = t.startProcess(s.ctx, r, &d)
	}
	if d.span != nil {
		d.span.SetAttributes(attrAttempt.Int(attempt))
	}
	p := newParked(d, r.addr, r.n.in.Queue, attempt, reason, errText)
	ctx := spanContext(s.ctx, d.span)
	r.log.ErrorContext(ctx, "parking message", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
		"reason", string(reason), "error", p.errText, "dead_queue", deadQueue(p.queue))
	c, err := publishParked(s.ctx, s.ch, r.e.g.WorkExchange, r.log, p)
	confs := []Confirmation{c}
	var release func() // undoes the claim of the run's notice (see claimNotice)
	if err == nil && o.notify && d.RunID != "" && len(r.n.to) > 0 {
		confs, release, err = s.parkNotices(d, attempt, p, confs)
	}
	if err != nil {
		if release != nil {
			release()
		}
		endSpan(d.span, err)
		r.log.WarnContext(ctx, "park failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		if r.debug {
			r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
		}
		return
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		span:  d.span,
		ok: func() {
			r.m.parked.Add(1)
			f := p.failure(d)
			if r.debug {
				r.handled(d.span, f.RunID, f.MessageID, attempt, d.received, "parked")
			}
			if o.report {
				r.e.onFailure(ctx, f)
			}
		},
		failed: func(err error, redelivered bool) {
			if release != nil {
				release()
			}
			r.log.ErrorContext(ctx, "parked copy not confirmed; "+failedFate(redelivered, "the message", "rejecting for a retry"), "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		},
	})
}

// parkNotices publishes the failure notices of d's run, parked here as p,
// on every output of the node (a route's: its notice path), and returns confs with their
// confirmations added. The run is over: it is said downstream before d is
// settled. A node that sends one notice per run (an aggregate) claims it
// first through s.claimNotice: when it was sent already, nothing is
// published; release (nil: nothing) undoes the claim should the park fail.
func (s *session) parkNotices(d Delivery, attempt int, p parked, confs []Confirmation) (_ []Confirmation, release func(), err error) {
	r := s.r
	id := d.MessageID
	if s.claimNotice != nil {
		var ok bool
		if id, release, ok = s.claimNotice(d.RunID); !ok {
			return confs, nil, nil
		}
	}
	f := RunFailure{Node: r.addr, Reason: string(p.reason), Error: p.errText}
	if nf, ok := noticeOf(d.Message); ok {
		f = nf // a notice that could not be passed on passes on its own failure
	}
	// A route's notice goes down one path (see Node.noticePath).
	for _, o := range r.noticesOf(d.Headers, d.RunID, id, attempt, f) {
		// The notice continues the run's trace under the park.
		continueTrace(d.span, d.Message, &o.msg)
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if err != nil {
			return confs, release, err
		}
		confs = append(confs, c)
	}
	return confs, release, nil
}

// parkResult parks a result that does not decode as its terminate node's
// type, as the consume subcommand and Local do: a copy goes to Q.dead with
// reason decode, the delivery is acked once the copy is confirmed, and the
// graph's on_failure is called.
func parkResult(ctx context.Context, g *Graph, log *slog.Logger, ch Channel, n Node, d Delivery, decErr error) error {
	q := n.in.Queue
	p := newParked(d, n.Addr(), q, d.attempt(q), envelope.Decode, fmt.Sprintf("decode %s: %v", n.in.Message, decErr))
	log.ErrorContext(spanContext(ctx, d.span), "parking result that does not decode", "node", n.Addr(), "message_id", d.MessageID, "run_id", d.RunID,
		"error", decErr.Error(), "dead_queue", deadQueue(q))
	conf, err := publishParked(ctx, ch, g.WorkExchange, log, p)
	if err == nil {
		err = conf.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("consume: park undecodable result in %s: %w", deadQueue(q), err)
	}
	if err := ch.Ack(d.Tag, false); err != nil {
		return fmt.Errorf("consume: ack parked result: %w", err)
	}
	if g.OnFailure != nil {
		var calls sync.WaitGroup
		g.callOnFailure(spanContext(ctx, d.span), log, &calls, p.failure(d))
		calls.Wait()
	}
	return nil
}
