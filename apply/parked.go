package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers of a parked message that redrive drops so the message starts
// afresh (the names match package runtime's, which apply does not import).
var redriveDropped = []string{
	"x-death", "x-dge-attempt", "x-dge-first-seen", "x-dge-poll-since",
	"x-dge-reason", "x-dge-error", "x-dge-node",
}

// HeaderRedriven counts how many times a message was redriven.
const HeaderRedriven = "x-dge-redriven"

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
// passive declare gave, and then closes its channel: every message it did
// not acknowledge goes back to the queue in its original position, so
// listing loses nothing and leaves nothing unacknowledged, and the messages
// a redrive or purge does not select stay parked in order. (basic.get with
// nack-requeue would put each message back before reading the next, and so
// read the same head message forever.) A redrive copies a selected message
// to opts.Exchange with opts.Key (mandatory, confirmed) with fresh attempts
// (see RedriveHeaders) and acknowledges the parked copy only once the copy
// is confirmed: a crash duplicates at most. A redrive or purge holds an
// exclusive marker queue for its duration; a second one of the same queue
// fails with ErrBusy.
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
	if ready == 0 {
		return 0, nil
	}
	if err := ch.Qos(0, 0, false); err != nil {
		return 0, fmt.Errorf("read parked messages of %s: set prefetch: %w", queue, err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	deliveries, err := ch.Consume(queue, fmt.Sprintf("dge-parked-%d", m.tags.Add(1)), false, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("read parked messages of %s: consume: %w", queue, err)
	}
	var selected, received int64
	start := time.Now()
	idle := time.NewTimer(moveIdle)
	defer idle.Stop()
	for received < ready {
		var d amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			return selected, ctx.Err()
		case <-idle.C:
			return selected, nil // the rest expired or another consumer took them
		case d, ok = <-deliveries:
			if !ok {
				return selected, fmt.Errorf("read parked messages of %s: the broker ended the consumer (queue deleted?): run the command again", queue)
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
					return selected, ctx.Err()
				case <-time.After(wait):
				}
			}
		}
		if opts.Op == ParkedRedrive {
			if err := redriveOne(ctx, ch, d, opts, returns); err != nil {
				return selected, fmt.Errorf("redrive %s (%d moved): %w", queue, selected, err)
			}
		}
		if opts.Op != ParkedList {
			if err := d.Ack(false); err != nil {
				return selected, fmt.Errorf("acknowledge a parked message in %s (%d done): %w", queue, selected, err)
			}
		}
		selected++
		if opts.Visit != nil {
			if err := opts.Visit(d); err != nil {
				return selected, err
			}
		}
		// Reset only now: a pacing wait longer than moveIdle must not end
		// the read (since Go 1.23, Reset also drops a tick not yet read).
		idle.Reset(moveIdle)
	}
	return selected, nil
}

// redriveOne publishes a parked message's fresh copy and waits for its
// confirm.
func redriveOne(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, opts ParkedOptions, returns chan amqp.Return) error {
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, opts.Exchange, opts.Key, true, false, copyOf(d, RedriveHeaders(d.Headers)))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", opts.Key, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for the broker to confirm a copy in %s: %w", opts.Key, err)
	}
	if !ok {
		return fmt.Errorf("the broker refused a copy in %s (nack)", opts.Key)
	}
	select {
	case ret := <-returns:
		return fmt.Errorf("a copy was returned unroutable (%d %s): does queue %s still exist? run dge apply", ret.ReplyCode, ret.ReplyText, opts.Key)
	default:
	}
	return nil
}

// RedriveHeaders returns the headers of a redriven copy: h without the
// death history and the attempt, first-seen, poll-since and parking
// headers, with x-dge-redriven one more than before. h is not changed.
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
