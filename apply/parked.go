package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers of a parked message that redrive drops so the message starts
// afresh.
var redriveDropped = []string{
	"x-death", envelope.HeaderAttempt, envelope.HeaderFirstSeen, envelope.HeaderPollSince,
	envelope.HeaderReason, envelope.HeaderError, envelope.HeaderNode, envelope.HeaderParkedAt,
}

// HeaderRedriven counts how many times a message was redriven: the header
// nodes copy to their outputs (envelope.HeaderRedriven).
const HeaderRedriven = envelope.HeaderRedriven

// ParkedOp is what Parked does with the messages its filter selects.
type ParkedOp int

// The operations of Parked.
const (
	ParkedList    ParkedOp = iota // read and leave every message in place
	ParkedRedrive                 // republish to the work queue, then ack
	ParkedPurge                   // ack (delete)
)

// ParkedOptions tunes Parked.
type ParkedOptions struct {
	// Op is what happens to the selected messages.
	Op ParkedOp
	// Match selects messages; nil selects every one.
	Match func(amqp.Delivery) bool
	// Visit is called, in queue order, for each selected message.
	Visit func(amqp.Delivery) error
	// Limit bounds how many messages are selected; 0 is no bound.
	Limit int64
	// Rate paces redrive and purge to at most this many messages a
	// second; 0 is no pacing.
	Rate float64
	// Exchange and Key are where redrive publishes (the graph's work
	// exchange, and the edge's work queue as routing key).
	Exchange, Key string
}

// lockPrefix names the exclusive marker queue that guards one redrive or
// purge of a dead queue at a time.
const lockPrefix = "dge.parked-lock."

// ErrBusy is returned when another redrive or purge of the queue is running.
var ErrBusy = errors.New("another dge parked redrive or purge of this queue is running: wait for it to finish")

// Parked reads every message that was in queue (a dead queue) when it
// started, once, in order, and lists, redrives or purges those opts.Match
// selects, returning how many it selected. It consumes with manual
// acknowledgements and no prefetch limit until it received the count a
// passive declare gave and whatever arrives in the parkedGrace after, and
// then closes its channel: every message it did
// not acknowledge goes back to the queue in its original position, so
// listing loses nothing and leaves nothing unacknowledged, and the messages
// a redrive or purge does not select stay parked in order. (basic.get with
// nack-requeue would put each message back before reading the next, and so
// read the same head message forever.) A redrive copies a selected message
// to opts.Exchange with opts.Key (mandatory, confirmed) with fresh attempts
// (see RedriveHeaders) and acknowledges the parked copy only once the copy
// is confirmed: a crash duplicates at most (up to a window of copies
// confirmed and not yet acknowledged). On error it returns how many it
// finished. A redrive or purge holds an exclusive marker queue for its
// duration; a second one of the same queue fails with ErrBusy.
func (m *Mover) Parked(ctx context.Context, queue string, opts ParkedOptions) (int64, error) {
	ch, err := m.conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("read parked messages of %s: open AMQP channel: %w", queue, err)
	}
	defer closeChannel(ch)
	if opts.Op != ParkedList {
		if err := m.lock(queue); err != nil {
			return 0, err
		}
		defer m.unlock(queue)
		if err := ch.Confirm(false); err != nil {
			return 0, fmt.Errorf("redrive %s: enable publisher confirms: %w", queue, err)
		}
	}
	ready, _, found, err := m.Count(ctx, queue)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("queue %s does not exist: run dge apply", queue)
	}
	if err := ch.Qos(0, 0, false); err != nil {
		return 0, fmt.Errorf("read parked messages of %s: set prefetch: %w", queue, err)
	}
	window := parkedWindow(opts.Rate)
	returns := ch.NotifyReturn(make(chan amqp.Return, window+1))
	deliveries, err := ch.Consume(queue, fmt.Sprintf("dge-parked-%d", m.tags.Add(1)), false, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("read parked messages of %s: consume: %w", queue, err)
	}
	r := &redriveBatch{ch: ch, key: opts.Key, returns: returns}
	var selected, received int64
	done := func() int64 { return selected - int64(len(r.pending)) }
	start := time.Now()
	idle := time.NewTimer(moveIdle)
	defer idle.Stop()
	// grace ends the read parkedGrace after the count is reached: a quorum
	// queue takes back the unacknowledged messages of a channel closed
	// just before (a previous list, say) asynchronously, so the count may
	// miss a few that are still on their way back.
	var grace <-chan time.Time
read:
	for {
		if received >= ready && grace == nil {
			grace = time.After(parkedGrace)
		}
		var d amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			r.settle()
			return done(), ctx.Err()
		case <-grace:
			break read
		case <-idle.C:
			// The rest expired or another consumer took them.
			received = ready
			continue
		case d, ok = <-deliveries:
			if !ok {
				return done(), fmt.Errorf("read parked messages of %s: the broker ended the consumer (queue deleted?): run the command again", queue)
			}
		}
		received++
		if (opts.Match != nil && !opts.Match(d)) || (opts.Limit > 0 && selected >= opts.Limit) {
			idle.Reset(moveIdle)
			continue // stays unacknowledged: back in place when the channel closes
		}
		if opts.Rate > 0 {
			due := start.Add(time.Duration(float64(selected) / opts.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
					r.settle()
					return done(), ctx.Err()
				case <-time.After(wait):
				}
			}
		}
		switch opts.Op {
		case ParkedRedrive:
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, opts.Exchange, opts.Key, true, false, copyOf(d, RedriveHeaders(d.Headers)))
			if err != nil {
				return done(), fmt.Errorf("redrive %s (%d moved): publish to %s: %w", queue, done(), opts.Key, err)
			}
			r.pending = append(r.pending, pendingCopy{tag: d.DeliveryTag, confirm: dc})
		case ParkedPurge:
			if err := d.Ack(false); err != nil {
				return done(), fmt.Errorf("delete a parked message in %s (%d done): %w", queue, done(), err)
			}
		}
		selected++
		if opts.Visit != nil {
			if err := opts.Visit(d); err != nil {
				return done(), err
			}
		}
		if len(r.pending) >= window {
			if err := r.flush(ctx); err != nil {
				if ctx.Err() != nil {
					r.settle()
				}
				return done(), fmt.Errorf("redrive %s (%d moved): %w", queue, done(), err)
			}
		}
		// Reset only now: a pacing wait longer than moveIdle must not end
		// the read (since Go 1.23, Reset also drops a tick not yet read).
		idle.Reset(moveIdle)
	}
	if err := r.flush(ctx); err != nil {
		return done(), fmt.Errorf("redrive %s (%d moved): %w", queue, done(), err)
	}
	return selected, nil
}

// parkedWindow is how many redriven copies wait for their confirms at once:
// a tenth of a second's worth at a paced rate (so that pacing is what
// bounds the rate), else DefaultMoveWindow/4.
func parkedWindow(rate float64) int {
	if rate > 0 {
		return max(1, min(int(rate/10), DefaultMoveWindow/4))
	}
	return DefaultMoveWindow / 4
}

// settle flushes the pending copies when the caller's context ended (an
// interrupt), so that the copies already confirmed are not left as
// duplicates; it gives up after settleTimeout, leaving them parked.
func (r *redriveBatch) settle() {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	_ = r.flush(ctx)
}

// parkedGrace is how long Parked reads on once it received the count it
// started with.
const parkedGrace = 250 * time.Millisecond

// settleTimeout bounds settle.
const settleTimeout = 5 * time.Second

// redriveBatch is the redriven copies not yet confirmed.
type redriveBatch struct {
	ch      *amqp.Channel
	key     string
	returns chan amqp.Return
	pending []pendingCopy
}

// flush waits for the pending copies' confirms and then acknowledges their
// parked deliveries one by one (not with multiple: the messages a filter
// left out between them must stay unacknowledged). A copy refused or
// returned unroutable acknowledges nothing.
func (r *redriveBatch) flush(ctx context.Context) error {
	for _, p := range r.pending {
		ok, err := p.confirm.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("wait for the broker to confirm a copy in %s: %w", r.key, err)
		}
		if !ok {
			return fmt.Errorf("the broker refused a copy in %s (nack)", r.key)
		}
	}
	select {
	case ret := <-r.returns:
		return fmt.Errorf("a copy was returned unroutable (%d %s): does queue %s still exist? run dge apply", ret.ReplyCode, ret.ReplyText, r.key)
	default:
	}
	for len(r.pending) > 0 {
		if err := r.ch.Ack(r.pending[0].tag, false); err != nil {
			return fmt.Errorf("acknowledge a redriven message: %w", err)
		}
		r.pending = r.pending[1:]
	}
	return nil
}

// RedriveHeaders returns the headers of a redriven copy: h without the
// death history and the attempt, first-seen, poll-since and parking
// headers, with x-dge-redriven one more than before. The W3C trace context
// (traceparent, tracestate: the parking span's) stays, so the redriven run
// continues its trace. h is not changed.
func RedriveHeaders(h amqp.Table) amqp.Table {
	out := amqp.Table{}
	for k, v := range h {
		out[k] = v
	}
	for _, k := range redriveDropped {
		delete(out, k)
	}
	var n int64
	switch v := h[HeaderRedriven].(type) {
	case int64:
		n = v
	case int32:
		n = int64(v)
	case int:
		n = int64(v)
	}
	out[HeaderRedriven] = n + 1
	return out
}

// lock declares the exclusive marker queue of a dead queue on a channel of
// its own; the broker refuses a second one (RESOURCE_LOCKED) while the
// first connection holds it.
func (m *Mover) lock(queue string) error {
	ch, err := m.conn.Channel()
	if err != nil {
		return fmt.Errorf("lock %s: open AMQP channel: %w", queue, err)
	}
	defer closeChannel(ch)
	_, err = ch.QueueDeclare(lockPrefix+queue, false, true, true, false, nil)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.ResourceLocked {
		return fmt.Errorf("%s: %w", queue, ErrBusy)
	}
	if err != nil {
		return fmt.Errorf("lock %s: declare marker queue %s: %w", queue, lockPrefix+queue, err)
	}
	return nil
}

// unlock deletes the marker queue (it also goes when the connection does).
func (m *Mover) unlock(queue string) {
	ch, err := m.conn.Channel()
	if err != nil {
		return
	}
	defer closeChannel(ch)
	_, _ = ch.QueueDelete(lockPrefix+queue, false, false, false)
}
