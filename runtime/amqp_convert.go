package runtime

// The conversion between the runtime's Message and Delivery and the AMQP
// client's Publishing and Delivery: the runtime's own headers travel as
// fields of Message, the others as its Headers.

import (
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// toAMQP returns the publishing of m: persistent JSON, its run ID as the
// correlation ID, the runtime's headers (and the trace context) added to
// m's, and now as its timestamp when m has none.
func toAMQP(m Message) amqp.Publishing {
	h := make(amqp.Table, len(m.Headers)+5)
	for k, v := range m.Headers {
		h[k] = v
	}
	h[HeaderRunID] = m.RunID
	h[HeaderSource] = m.Source
	h[HeaderAttempt] = int32(m.Attempt)
	if m.TraceParent != "" {
		h[HeaderTraceParent] = m.TraceParent
		if m.TraceState != "" {
			h[HeaderTraceState] = m.TraceState
		}
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	return amqp.Publishing{
		Headers:       h,
		ContentType:   "application/json",
		DeliveryMode:  amqp.Persistent,
		CorrelationId: m.RunID,
		MessageId:     m.MessageID,
		Timestamp:     ts,
		Body:          m.Body,
	}
}

// fromAMQP returns the Delivery of d: the runtime's headers moved to their
// fields when they have the right type (otherwise kept as headers, for the
// border check, checkDelivery), the x-death history parsed.
func fromAMQP(d amqp.Delivery) Delivery {
	out := Delivery{
		Message: Message{
			Body:      d.Body,
			MessageID: d.MessageId,
			RunID:     d.CorrelationId,
			Timestamp: d.Timestamp,
		},
		Tag:         d.DeliveryTag,
		Redelivered: d.Redelivered,
	}
	for k, v := range d.Headers {
		switch k {
		case HeaderRunID, HeaderSource, HeaderTraceParent, HeaderTraceState:
			if s, ok := v.(string); ok {
				out.setField(k, s)
			} else {
				out.setHeader(k, v, len(d.Headers)) // for the border check (checkDelivery)
			}
		case HeaderAttempt, "x-delivery-count":
			if _, ok := intValue(v); !ok {
				out.setHeader(k, v, len(d.Headers))
			} else if k == HeaderAttempt {
				out.Attempt = toInt(v)
			} else {
				out.DeliveryCount = toInt(v)
			}
		case "x-death":
			out.Deaths = parseDeaths(v)
			out.setHeader(k, v, len(d.Headers))
		default:
			out.setHeader(k, v, len(d.Headers))
		}
	}
	return out
}

// setField sets the field of d that carries string header k.
func (d *Delivery) setField(k, s string) {
	switch k {
	case HeaderRunID:
		d.RunID = s
	case HeaderSource:
		d.Source = s
	case HeaderTraceParent:
		d.TraceParent = s
	case HeaderTraceState:
		d.TraceState = s
	}
}

// setHeader sets a header of d, making the map (sized for n) on first use:
// most deliveries carry no header but the runtime's own, which are fields.
func (d *Delivery) setHeader(k string, v any, n int) {
	if d.Headers == nil {
		d.Headers = make(map[string]any, n)
	}
	d.Headers[k] = v
}

// toInt reads an integer of any AMQP width, or a decimal string; 0 for
// anything else.
func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}
