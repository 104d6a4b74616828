package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
)

// handlePoll checks one poll job. Not done: a copy (same IDs, with the time
// polling started in x-dge-poll-since, dead-letter history cleared) goes to
// the poll exchange, waits the interval in Q.poll and comes back to Q; the
// delivery is acked once the copy is confirmed. Done: the output is
// published and confirmed, then the delivery acked. An error follows the
// retry rules; a job older than the node's timeout is parked.
func (s *session) handlePoll(d Delivery, attempt int, in any) {
	r := s.r
	now := time.Now().UTC()
	since := headerTime(d.Headers, HeaderPollSince, now)
	if r.n.timeout > 0 && now.Sub(since) > r.n.timeout {
		s.park(d, attempt, envelope.Timeout, fmt.Sprintf("not done after %s (polling since %s, timeout %s)",
			now.Sub(since).Round(time.Second), since.Format(time.RFC3339), r.n.timeout))
		return
	}
	v, done, err := s.callPoll(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, bool, error) {
		return r.n.poll(ctx, in)
	})
	if err != nil {
		s.fail(d, attempt, err)
		return
	}
	if !done {
		h := make(map[string]any, len(d.Headers)+1)
		for k, val := range d.Headers {
			if k != "x-death" {
				h[k] = val
			}
		}
		h[HeaderPollSince] = since.Format(time.RFC3339Nano)
		m := d.Message
		m.Headers = h
		if d.span != nil {
			// The next check is a child of this one: the run stays one trace.
			d.span.AddEvent("poll pending")
			carry(d.span, &m)
		}
		c, err := s.ch.Publish(s.ctx, r.e.g.PollExchange, r.n.in.Queue, m)
		if err != nil {
			endSpan(d.span, err)
			r.log.WarnContext(spanContext(s.ctx, d.span), "poll re-enqueue failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
			if r.debug {
				r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
			}
			return
		}
		s.acker.submit(ackItem{
			tag:   d.Tag,
			confs: []Confirmation{c},
			span:  d.span,
			ok: func() {
				r.m.acked.Add(1)
				r.m.polled.Add(1)
				if r.debug {
					r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "pending")
				}
			},
			failed: func(err error, _ bool) {
				r.log.Warn("poll re-enqueue not confirmed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
			},
			unroutable: true, in: d, attempt: attempt,
		})
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("encode output %T: %v", v, err))
		return
	}
	to := r.n.to[0]
	s.publishThenAck(d, attempt, []out{{exchange: r.e.g.WorkExchange, key: to, msg: s.output(d, to, attempt, body)}})
}
