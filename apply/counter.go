package apply

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPCounter counts queues exactly with an AMQP passive queue.declare,
// which returns the ready messages and the consumers at that instant (the
// management API's counts are statistics refreshed every 5 s). It is safe
// for concurrent use.
type AMQPCounter struct {
	conn *amqp.Connection
}

// DialCounter connects to the vhost named by url (amqp://user:pass@host/vhost);
// name is the connection name shown in the management UI.
func DialCounter(url, name string) (*AMQPCounter, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": name}})
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ over AMQP to count messages: %w", err)
	}
	return &AMQPCounter{conn: conn}, nil
}

// Count passively declares the queue on a channel of its own (a missing
// queue closes the channel with 404, which Count reports as not found).
func (c *AMQPCounter) Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error) {
	return passiveCount(ctx, c.conn, queue)
}

// passiveCount passively declares queue on a channel of its own and returns
// its ready messages and consumers; a missing queue is not found.
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

// Close closes the AMQP connection.
func (c *AMQPCounter) Close() error { return c.conn.Close() }
