// Package amqpcount counts a queue's ready messages and consumers exactly,
// with an AMQP passive queue.declare, which answers with the counts at that
// instant (the management API's counts are statistics refreshed every 5 s).
// Its Counter is what dge apply gives apply.Options.Counter, so that apply
// checks a queue is empty an instant before deleting it.
//
// It sits beside internal/mgmt, the other broker adapter: mgmt speaks the
// management HTTP API, this package speaks AMQP, and apply owns the
// interfaces both implement.
package amqpcount

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Counter counts queues of one vhost over one AMQP connection. It
// implements apply.Counter and is safe for concurrent use.
type Counter struct {
	conn *amqp.Connection
}

// Dial connects to the vhost named by url (amqp://user:pass@host/vhost);
// name is the connection name shown in the management UI.
func Dial(url, name string) (*Counter, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": name}})
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ over AMQP to count messages: %w", err)
	}
	return &Counter{conn: conn}, nil
}

// Count passively declares the queue on a channel of its own and returns
// its ready messages and consumers; unacknowledged deliveries are not
// counted. A missing queue (the broker closes the channel with 404) is not
// found, without error.
func (c *Counter) Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, false, err
	}
	ch, err := c.conn.Channel()
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

// Close closes the AMQP connection.
func (c *Counter) Close() error { return c.conn.Close() }
