package runtime

import (
	"context"
	"errors"
)

// Transport is how the runtime reaches a broker. Node code uses only this
// interface, so a transport with the same semantics (rejected messages
// dead-letter through the edge's retry queue and come back after its TTL,
// unacknowledged deliveries are redelivered when their channel closes,
// mandatory publishes to a queue that does not exist fail) can replace the
// AMQP one.
type Transport interface {
	// Dial opens a connection named name (shown by the broker).
	Dial(ctx context.Context, name string) (Conn, error)
}

// Conn is one connection to the broker.
type Conn interface {
	// Channel opens a channel in confirm mode that allows up to window
	// publishes awaiting their confirmation; Publish blocks beyond that.
	Channel(ctx context.Context, window int) (Channel, error)
	// CheckQueue returns the number of messages ready in the queue (an
	// exact count: a passive declare on RabbitMQ), or an error wrapping
	// ErrNotFound when the queue does not exist.
	CheckQueue(ctx context.Context, name string) (ready int, err error)
	// CheckExchange returns an error wrapping ErrNotFound when the exchange
	// does not exist.
	CheckExchange(ctx context.Context, name string) error
	// Done is closed when the connection is lost or closed.
	Done() <-chan struct{}
	// Close closes the connection and every channel on it.
	Close() error
}

// Channel is one channel of a Conn: consumers plus a publisher with
// confirmations. Delivery tags are numbered per channel, across all its
// consumers, and valid only on the channel that delivered them.
type Channel interface {
	// Consume starts a consumer of queue with manual acknowledgements and
	// at most prefetch unacknowledged deliveries of its own (RabbitMQ's
	// per-consumer prefetch). A channel may hold several consumers at once:
	// to change the prefetch, start a new consumer, then cancel the old one.
	Consume(ctx context.Context, queue string, prefetch int) (Consumer, error)
	// Publish publishes m persistently and mandatorily to exchange with
	// routing key key. The returned Confirmation resolves when the broker
	// has taken responsibility for the message, or failed to.
	Publish(ctx context.Context, exchange, key string, m Message) (Confirmation, error)
	// Ack acknowledges the delivery tag (and every earlier unsettled one,
	// when multiple).
	Ack(tag uint64, multiple bool) error
	// Reject rejects the delivery without requeueing it: the broker
	// dead-letters it to the graph's retry exchange.
	Reject(tag uint64) error
	// Done is closed when the channel is lost or closed.
	Done() <-chan struct{}
	// Close closes the channel; unacknowledged deliveries go back to their
	// queue.
	Close() error
}

// Deliveries is the stream of one consumer's deliveries. Next may be called
// from several goroutines at once.
type Deliveries interface {
	// Next blocks until the next delivery, and returns false once the
	// consumer has ended and every delivery was taken.
	Next() (Delivery, bool)
}

// Consumer is one consumer of a queue on a Channel: its stream of
// deliveries, which ends after Cancel or when the channel is lost.
type Consumer interface {
	Deliveries
	// Cancel stops the consumer; deliveries already received are still
	// passed on before the stream ends, and they (like every earlier
	// delivery of the consumer) are settled on the channel as usual.
	Cancel() error
}

// deliveryChan feeds a stream into a channel, for select loops.
func deliveryChan(ds Deliveries) <-chan Delivery {
	out := make(chan Delivery)
	go func() {
		defer close(out)
		for {
			d, ok := ds.Next()
			if !ok {
				return
			}
			out <- d
		}
	}()
	return out
}

// Confirmation is the outcome of one Publish.
type Confirmation interface {
	// Wait blocks until the broker confirmed the message, and returns nil
	// when it was routed to a queue and stored; an error when the broker
	// returned it as unroutable (ErrReturned), refused it (ErrNacked), or
	// the channel was lost before the confirm came (ErrUnconfirmed).
	Wait(ctx context.Context) error
}

// ErrNotFound is wrapped by CheckQueue and CheckExchange errors for an
// object that does not exist.
var ErrNotFound = errors.New("not found")

// ErrRefused is wrapped by a Dial error when the broker refused the
// connection itself (wrong credentials, a vhost that does not exist or that
// the user may not use): retrying cannot help.
var ErrRefused = errors.New("refused by the broker")

// ErrUnconfirmed is wrapped by a Confirmation's error when the channel
// closed before the broker's confirm arrived: the message may or may not be
// queued.
var ErrUnconfirmed = errors.New("the channel closed before the broker confirmed it: it may or may not be queued")

// ErrNacked is wrapped by a Confirmation's error for a message the broker
// refused (a nack): it was not queued. The channel closes after a nack, so
// that its unacknowledged deliveries go back to their queues and a new
// channel publishes afresh: the runtime leaves the input of a refused
// output unsettled, to be redelivered, rather than rejecting it.
var ErrNacked = errors.New("refused by the broker (nack)")

// ErrReturned is wrapped by a Confirmation's error for a message the broker
// returned as unroutable: no queue is bound to its routing key.
var ErrReturned = errors.New("returned unroutable")
