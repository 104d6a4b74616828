package runtime

// A Message and the Delivery that brings it to a node, with what the
// delivery's dead-letter history (x-death) and delivery count tell: the
// attempt, a crash loop, a forged history.

import (
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
