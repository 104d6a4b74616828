package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
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
// refused (a nack): it was not queued.
var ErrNacked = errors.New("refused by the broker (nack)")

// ErrReturned is wrapped by a Confirmation's error for a message the broker
// returned as unroutable: no queue is bound to its routing key.
var ErrReturned = errors.New("returned unroutable")

// Message is a message body with its envelope.
type Message struct {
	Body      []byte
	MessageID string         // stable across redeliveries
	RunID     string         // the run the message belongs to
	Source    string         // address of the node that produced it
	Attempt   int            // the attempt of the producing handler, or of a parked message: attempts made
	Timestamp time.Time      // when it was published
	Headers   map[string]any // every other header, kept across hops where the runtime copies a message
	// TraceParent and TraceState are the W3C trace context of the span that
	// published the message (headers traceparent and tracestate), "" when
	// it was not traced.
	TraceParent, TraceState string
}

// Delivery is a Message received from a queue.
type Delivery struct {
	Message
	Tag         uint64  // delivery tag, valid on the delivering channel only
	Redelivered bool    // the broker delivered it before
	Deaths      []Death // dead-letter history (x-death), most recent first
	// DeliveryCount is the number of earlier deliveries from its current
	// queue (quorum queues' x-delivery-count), 0 when unknown.
	DeliveryCount int

	// received is when the node took the delivery in, set only when its
	// debug log is on (for the per-message line, see nodeRun.handled).
	received time.Time
	// span traces the node's handling of the delivery; nil when tracing is
	// off (see tracer).
	span trace.Span
}

// Death is one entry of a message's dead-letter history: how many times it
// was dead-lettered from Queue for Reason.
type Death struct {
	Queue  string
	Reason string // rejected, expired, delivery_limit, maxlen
	Count  int
}

// attempt returns the number of this delivery's attempt on queue: 1, plus
// every time it was dead-lettered from queue, for any reason (rejected by a
// handler error, or delivery_limit after a crash loop).
//
// Redeliveries after a consumer crash (DeliveryCount) are not attempts: when
// an instance dies, every message it had prefetched is redelivered, and those
// innocent messages must not move towards Q.dead. A message that really
// crashes its consumer over and over is bounded by the quorum work queue's
// delivery-limit, whose dead-lettering is counted here.
//
// Counts come from headers, which a publisher can forge: a negative or
// absurd count is clamped, so it can shorten what the runtime allows but
// never extend it or overflow.
func (d Delivery) attempt(queue string) int {
	n := 1
	for _, x := range d.Deaths {
		if x.Queue == queue {
			n += clampCount(x.Count)
		}
	}
	return min(n, maxHeaderCount)
}

// forgedDeath returns an error when d's dead-letter history for queue holds
// an entry that only a publisher could have written: a count below 1. The
// broker builds on a history it finds in a message (RabbitMQ before 3.13
// adds to a published x-death's count), so such a message would never run
// out of attempts; it is refused instead.
func (d Delivery) forgedDeath(queue string) error {
	for _, x := range d.Deaths {
		if x.Queue == queue && x.Count < 1 {
			return fmt.Errorf("forged x-death header: an entry for queue %q with count %d (the broker writes counts of 1 or more)", queue, x.Count)
		}
	}
	return nil
}

// redeliveries returns how often the broker delivered d before without it
// being settled: its delivery count, clamped, and 0 on a first delivery (a
// x-delivery-count header there was written by a publisher, not the broker).
func (d Delivery) redeliveries() int {
	if !d.Redelivered {
		return 0
	}
	return clampCount(d.DeliveryCount)
}

// lastDeathReason returns the reason of the most recent dead-lettering from
// queue, or "".
func (d Delivery) lastDeathReason(queue string) string {
	for _, x := range d.Deaths {
		if x.Queue == queue {
			return x.Reason
		}
	}
	return ""
}
