package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dgehq/dge/envelope"
)

// A split node calls its handler once per delivery and publishes each
// element of the list it returns as a message of its own, an item: the
// input's x-dge-split frames plus the split's own frame (its name, the
// split ID, the item's index, the count). The split ID and the items'
// message IDs are derived from the input's message ID and run ID, so a
// redelivered input publishes the very same items again, which the gather
// takes once. A split of no items publishes one message with an empty body
// and a frame of count 0 (the empty split marker), so that its gather still
// fires. The input is acked once every item is confirmed.

// splitItems is what a split's handler returned: the number of items and
// the i-th item.
type splitItems struct {
	n    int
	item func(i int) any
}

// handleSplit calls split node s.r's handler for delivery d, attempt
// attempt, whose body decoded as in, and publishes its items.
func (s *session) handleSplit(d Delivery, attempt int, in any) {
	r := s.r
	var items splitItems
	_, err := s.call(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, error) {
		var err error
		items.n, items.item, err = r.n.split(ctx, in)
		return nil, err
	})
	if err != nil {
		s.fail(d, attempt, err)
		return
	}
	if items.n >= maxSplitCount {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("the handler returned %d items, over the %d a split can carry: return fewer, larger items", items.n, maxSplitCount-1))
		return
	}
	frames, err := splitFramesOf(d.Headers)
	if err != nil { // admit checked the header: never expected
		s.park(d, attempt, envelope.BadHeader, "header "+HeaderSplit+": "+err.Error())
		return
	}
	if len(frames) >= maxSplitFrames {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("the input is inside %d splits already, the most the runtime nests: gather some of them before this split", len(frames)))
		return
	}
	sp := newSplitPublish(s, d, attempt, frames, items.n)
	if len(sp.prefix)+len(sp.suffix)+10 > maxSplitHeader {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("the items' %s header would be over the %d bytes the runtime accepts: use shorter split node names or nest fewer splits", HeaderSplit, maxSplitHeader))
		return
	}
	start := time.Now()
	sp.run(items)
	s.win.worked(time.Since(start))
}

// splitPublish publishes the items of one split: as it goes, waiting for
// the oldest confirmation once its own unconfirmed publishes reach a share
// of the channel's publish window (every worker of the session may be
// publishing a split at once, and the window's slots are freed only when
// their confirmations are waited for), and hands the last ones to the
// acker, which acks the input once they are confirmed. Only one item is
// held at a time, whatever the count.
type splitPublish struct {
	s       *session
	d       Delivery
	attempt int
	to      string
	id      string // the split ID
	count   int
	prefix  string // the items' x-dge-split up to the index: the input's frames and "name:id:"
	suffix  string // after the index: ":count"
	base    Message
	pending []Confirmation
	limit   int // unconfirmed publishes of this split at most
}

func newSplitPublish(s *session, d Delivery, attempt int, frames splitFrames, count int) *splitPublish {
	r := s.r
	to := r.n.to[0]
	id := splitID(d, r.addr)
	prefix := ""
	if len(frames) > 0 {
		prefix = frames.String() + ";"
	}
	prefix += r.n.name + ":" + id + ":"
	base := Message{RunID: d.RunID, Source: r.addr, Attempt: attempt}
	continueTrace(d.span, d.Message, &base)
	return &splitPublish{
		s: s, d: d, attempt: attempt, to: to, id: id, count: count,
		prefix: prefix, suffix: ":" + strconv.Itoa(count), base: base,
		limit: max(1, r.publishWindow()/r.concurrency),
	}
}

// splitID returns the ID of the split of delivery d at node addr: the same
// for every redelivery (and every redrive) of d.
func splitID(d Delivery, addr string) string {
	return deriveID(d.MessageID, d.Body, addr+"\x00"+d.RunID, "split")
}

// message returns the item of index i with body (i 0 and body nil for the
// empty split marker).
func (sp *splitPublish) message(i int, body []byte) Message {
	m := sp.base
	m.Body = body
	if sp.count == 0 {
		m.MessageID = deriveID(sp.id, nil, "empty", sp.to)
	} else {
		m.MessageID = deriveID(sp.id, nil, strconv.Itoa(i), sp.to)
	}
	h := make(map[string]any, 2)
	if v, ok := sp.d.Headers[HeaderRedriven]; ok {
		h[HeaderRedriven] = v
	}
	h[HeaderSplit] = sp.prefix + strconv.Itoa(i) + sp.suffix
	m.Headers = h
	return m
}

// run publishes every item (or the empty split marker) and hands the
// input to the acker.
func (sp *splitPublish) run(items splitItems) {
	s, r := sp.s, sp.s.r
	if items.n == 0 {
		if !sp.publish(sp.message(0, nil)) {
			return
		}
	}
	for i := range items.n {
		v := items.item(i)
		body, err := json.Marshal(v)
		if err != nil {
			sp.release()
			s.park(sp.d, sp.attempt, envelope.Permanent, fmt.Sprintf("encode item %d of %d (%T): %v", i, items.n, v, err))
			return
		}
		if !sp.publish(sp.message(i, body)) {
			return
		}
	}
	published, itemCount := int64(max(items.n, 1)), int64(items.n)
	d, span, attempt := sp.d, sp.d.span, sp.attempt
	runID, messageID, received := d.RunID, d.MessageID, d.received
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: sp.pending,
		span:  span,
		ok: func() {
			r.m.acked.Add(1)
			r.m.published.Add(published)
			r.m.splitItems.Add(itemCount)
			if r.debug {
				r.handled(span, runID, messageID, attempt, received, "done")
			}
		},
		failed: func(err error, _ bool) {
			r.log.WarnContext(spanContext(context.Background(), span), "item not confirmed; the split's input will be redelivered", "run_id", runID, "message_id", messageID, "error", err.Error())
		},
		unroutable: true, in: d, attempt: attempt,
	})
}

// publish publishes item m, first waiting for the oldest confirmation
// when sp holds its limit. It reports whether the split goes on; when it
// does not, the input was dealt with: parked (an item the transport
// refused), or left to the broker to redeliver (an item the broker did
// not take, or the channel is gone).
func (sp *splitPublish) publish(m Message) bool {
	s, r, d := sp.s, sp.s.r, sp.d
	if len(sp.pending) >= sp.limit {
		c := sp.pending[0]
		sp.pending = sp.pending[1:]
		if err := c.Wait(s.ctx); err != nil {
			if s.ctx.Err() != nil {
				sp.abandon(err)
				return false
			}
			// The broker did not take an item: leave the input to be
			// redelivered, once the items before are settled (their
			// slots freed).
			sp.redeliver(err)
			return false
		}
	}
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, sp.to, m)
	if errors.Is(err, errUnpublishable) {
		s.unpublishable(d, sp.attempt, sp.to, err, sp.pending)
		return false
	}
	if err != nil {
		sp.abandon(err)
		return false
	}
	sp.pending = append(sp.pending, c)
	return true
}

// redeliver hands the input to the acker, which leaves it to be redelivered
// (see leftToChannel) once the items published so far are settled (their
// slots freed): the broker did not take an item (err); an item it returned
// unroutable parks the input instead (see parkUnroutable).
func (sp *splitPublish) redeliver(err error) {
	r, d := sp.s.r, sp.d
	runID, messageID := d.RunID, d.MessageID
	sp.s.acker.submit(ackItem{tag: d.Tag, confs: append([]Confirmation{settled{err}}, sp.pending...), span: d.span, failed: func(err error, _ bool) {
		r.log.Warn("item not confirmed; the split's input will be redelivered", "run_id", runID, "message_id", messageID, "error", err.Error())
	}, unroutable: true, in: d, attempt: sp.attempt})
}

// abandon leaves the input to the broker to redeliver: the channel is gone
// (or the shutdown timeout passed) after err.
func (sp *splitPublish) abandon(err error) {
	s, d := sp.s, sp.d
	endSpan(d.span, err)
	s.r.log.WarnContext(spanContext(s.ctx, d.span), "publish failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
	if s.r.debug {
		s.r.handled(d.span, d.RunID, d.MessageID, sp.attempt, d.received, "redeliver")
	}
}

// release takes the confirmations of the items published so far in the
// background, freeing their slots of the publish window; the items are
// left to their fate.
func (sp *splitPublish) release() {
	pending, ctx := sp.pending, sp.s.ctx
	sp.pending = nil
	go func() {
		for _, c := range pending {
			_ = c.Wait(ctx)
		}
	}()
}

// settled is a Confirmation already resolved with err.
type settled struct{ err error }

func (c settled) Wait(context.Context) error { return c.err }
