package apply

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultMoveWindow is how many messages Move holds received and
// unconfirmed at once unless told otherwise.
const DefaultMoveWindow = 1000

// moveIdle ends a round of Move when the source stops delivering before the
// count it announced (messages expired, or taken by another consumer).
const moveIdle = 2 * time.Second

// Mover moves messages between the queues of one vhost over AMQP, never
// losing one: it consumes the source with manual acknowledgements,
// publishes each message through the default exchange to the destination
// (mandatory, with publisher confirms, body, properties and headers
// unchanged) and acknowledges the source delivery only once the broker has
// confirmed the copy. A crash or a lost connection mid-move therefore
// leaves every message in the source, the destination or (duplicated) in
// both, never in neither. It is safe for concurrent use; each Move runs on
// a channel of its own.
type Mover struct {
	conn *amqp.Connection
	tags atomic.Int64
}

// MoveOptions tunes Move.
type MoveOptions struct {
	// Max bounds how many messages are moved; 0 moves until the source is
	// empty.
	Max int64
	// Window is how many messages are received and not yet confirmed at
	// once (the consumer prefetch); default DefaultMoveWindow.
	Window int
	// Exchange and RoutingKey, when Exchange is set, say where the copies
	// are published instead of to the destination through the default
	// exchange: a retry or poll queue's messages dead-letter with the
	// routing key they were published with, so they must carry their edge
	// queue's name. The exchange must route the key to the destination.
	Exchange, RoutingKey string
}

// DialMover connects to the vhost named by url (amqp://user:pass@host/vhost);
// name is the connection name shown in the management UI.
func DialMover(url, name string) (*Mover, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": name}})
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ over AMQP to move messages: %w", err)
	}
	return &Mover{conn: conn}, nil
}

// Close closes the AMQP connection; a Move in progress stops and its
// unconfirmed messages stay in the source.
func (m *Mover) Close() error { return m.conn.Close() }

// Count returns a queue's ready messages and consumers at this instant (a
// passive queue.declare); found is false when the queue does not exist.
// Unacknowledged deliveries are not counted.
func (m *Mover) Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error) {
	return passiveCount(ctx, m.conn, queue)
}

// passiveCount passively declares queue on a channel of its own and returns
// its ready messages and consumers; a missing queue (the broker closes the
// channel with 404) is not found.
func passiveCount(ctx context.Context, conn *amqp.Connection, queue string) (ready, consumers int64, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, false, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return 0, 0, false, fmt.Errorf("count queue %s: open AMQP channel: %w", queue, err)
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
		return 0, 0, false, nil // the failed declare closed the channel
	}
	if err != nil {
		ch.Close()
		return 0, 0, false, fmt.Errorf("count queue %s: passive declare: %w", queue, err)
	}
	ch.Close()
	return int64(q.Messages), int64(q.Consumers), true, nil
}

// Move moves the messages of queue from to queue to, in order, until from
// is empty or opts.Max are moved, and returns how many it moved. Both
// queues must exist. Messages published to from meanwhile are moved too,
// if they arrive before it finds the queue empty. On error the messages not
// yet confirmed stay in from (or, if their copy was confirmed just before,
// are in both): running Move again finishes the job.
func (m *Mover) Move(ctx context.Context, from, to string, opts MoveOptions) (int64, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultMoveWindow
	}
	if _, _, found, err := m.Count(ctx, to); err != nil || !found {
		if err == nil {
			err = fmt.Errorf("queue %s does not exist", to)
		}
		return 0, fmt.Errorf("move messages from %s to %s: %w", from, to, err)
	}
	ch, err := m.conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("move messages from %s to %s: open AMQP channel: %w", from, to, err)
	}
	defer closeChannel(ch) // requeues whatever was received and not acknowledged
	if err := ch.Confirm(false); err != nil {
		return 0, fmt.Errorf("move messages from %s to %s: enable publisher confirms: %w", from, to, err)
	}
	if err := ch.Qos(opts.Window, 0, false); err != nil {
		return 0, fmt.Errorf("move messages from %s to %s: set prefetch: %w", from, to, err)
	}
	exchange, key := "", to
	if opts.Exchange != "" {
		exchange, key = opts.Exchange, opts.RoutingKey
	}
	r := &moveRound{ch: ch, from: from, to: to, exchange: exchange, key: key, window: opts.Window,
		returns: ch.NotifyReturn(make(chan amqp.Return, opts.Window+1))}
	var moved int64
	for opts.Max == 0 || moved < opts.Max {
		ready, _, found, err := m.Count(ctx, from)
		if err == nil && !found {
			err = fmt.Errorf("queue %s does not exist", from)
		}
		if err != nil {
			return moved, fmt.Errorf("move messages from %s to %s: %w", from, to, err)
		}
		if ready == 0 {
			return moved, nil
		}
		want := ready
		if opts.Max > 0 {
			want = min(want, opts.Max-moved)
		}
		n, err := r.run(ctx, fmt.Sprintf("dge-move-%d", m.tags.Add(1)), want, opts.Max > 0)
		moved += n
		if err != nil {
			return moved, fmt.Errorf("move messages from %s to %s (%d moved): %w", from, to, moved, err)
		}
	}
	return moved, nil
}

// moveRound moves about want messages with one consumer.
type moveRound struct {
	ch       *amqp.Channel
	from, to string
	// exchange and key are where copies are published (see MoveOptions).
	exchange, key string
	window        int
	returns       chan amqp.Return
	pending       []pendingCopy
}

// pendingCopy is a source delivery and the confirmation of its copy.
type pendingCopy struct {
	tag     uint64
	confirm *amqp.DeferredConfirmation
}

// run consumes until want messages arrived (or none arrives for a while),
// cancels the consumer, moves what arrived up to its cancel-ok (strict:
// nothing beyond want, which goes back to the source) and returns how many
// it moved.
func (r *moveRound) run(ctx context.Context, tag string, want int64, strict bool) (int64, error) {
	// Consume, not ConsumeWithContext: the latter cancels the consumer from
	// a goroutine of its own when ctx ends, racing the channel close Move
	// defers (amqp091-go 1.16 can then hand the cancel the close's reply,
	// and the close waits forever). This loop watches ctx itself, and the
	// close cancels the consumer and requeues what was not acknowledged.
	deliveries, err := r.ch.Consume(r.from, tag, false, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("consume: %w", err)
	}
	var received, moved int64
	cancelled := false
	cancel := func() error {
		if cancelled {
			return nil
		}
		cancelled = true
		if err := r.ch.Cancel(tag, false); err != nil {
			return fmt.Errorf("cancel the consumer: %w", err)
		}
		return nil
	}
	idle := time.NewTimer(moveIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return moved, ctx.Err()
		case <-idle.C:
			if err := cancel(); err != nil {
				return moved, err
			}
		case d, ok := <-deliveries:
			if !ok {
				n, err := r.flush(ctx)
				return moved + n, err
			}
			received++
			if strict && received > want {
				// Arrived before the cancel took effect: it stays.
				if err := d.Nack(false, true); err != nil {
					return moved, fmt.Errorf("return a message to %s: %w", r.from, err)
				}
				continue
			}
			if err := r.publish(ctx, d); err != nil {
				return moved, err
			}
			if received == want {
				if err := cancel(); err != nil {
					return moved, err
				}
			}
			if len(r.pending) >= max(r.window/2, 1) {
				n, err := r.flush(ctx)
				moved += n
				if err != nil {
					return moved, err
				}
			}
			idle.Reset(moveIdle)
		}
	}
}

// publish copies a delivery to the destination.
func (r *moveRound) publish(ctx context.Context, d amqp.Delivery) error {
	dc, err := r.ch.PublishWithDeferredConfirmWithContext(ctx, r.exchange, r.key, true, false, copyOf(d, d.Headers))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", r.to, err)
	}
	r.pending = append(r.pending, pendingCopy{tag: d.DeliveryTag, confirm: dc})
	return nil
}

// flush waits for the confirms of the pending copies, in order, and then
// acknowledges their source deliveries at once. A copy the broker refused
// or returned (its destination gone) fails the flush, acknowledging
// nothing: the sources go back to their queue when the channel closes.
func (r *moveRound) flush(ctx context.Context) (int64, error) {
	if len(r.pending) == 0 {
		return 0, nil
	}
	for _, p := range r.pending {
		ok, err := p.confirm.WaitContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("wait for the broker to confirm a copy in %s: %w", r.to, err)
		}
		if !ok {
			return 0, fmt.Errorf("the broker refused a copy in %s (nack)", r.to)
		}
	}
	select {
	case ret := <-r.returns:
		return 0, fmt.Errorf("a copy was returned unroutable (%d %s): does queue %s still exist?", ret.ReplyCode, ret.ReplyText, r.to)
	default:
	}
	last := r.pending[len(r.pending)-1].tag
	n := int64(len(r.pending))
	r.pending = r.pending[:0]
	if err := r.ch.Ack(last, true); err != nil {
		return 0, fmt.Errorf("acknowledge moved messages in %s: %w", r.from, err)
	}
	return n, nil
}

// copyOf returns a delivery as a publishing with the given headers: body
// and every property unchanged.
func copyOf(d amqp.Delivery, headers amqp.Table) amqp.Publishing {
	return amqp.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    d.DeliveryMode,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		Expiration:      d.Expiration,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		UserId:          d.UserId,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}

// closeChannel closes ch; an error means it was closed already.
func closeChannel(ch *amqp.Channel) { _ = ch.Close() }
