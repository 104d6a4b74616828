package runtime

// A Message and the Delivery that brings it to a node, with what the
// delivery's dead-letter history (x-death) and delivery count tell: the
// attempt, a crash loop, a forged history.

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"
)

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

// parseDeaths reads an x-death header, skipping entries that are not
// tables.
func parseDeaths(v any) []Death {
	list, _ := v.([]any)
	var out []Death
	for _, e := range list {
		t, ok := e.(amqp.Table)
		if !ok {
			continue
		}
		q, _ := t["queue"].(string)
		r, _ := t["reason"].(string)
		out = append(out, Death{Queue: q, Reason: r, Count: toInt(t["count"])})
	}
	return out
}

// DeathsFromHeader returns the dead-letter history held by v, an x-death
// header value as RabbitMQ writes it (a list of tables, most recent first),
// as Delivery.Deaths: for a Transport that builds deliveries itself.
func DeathsFromHeader(v any) []Death { return parseDeaths(v) }
