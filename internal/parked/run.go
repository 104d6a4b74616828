package parked

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/envelope"
)

// Run is where one run's messages are that can be read without disturbing
// delivery: its parked copies in the graph's dead queues. Messages ready
// or in flight in work queues are not read: a read would raise a quorum
// message's delivery count toward its limit.
type Run struct {
	// Parked are the run's parked messages other than gather states, in
	// queue order.
	Parked []Message
	// States are the run's parked gather states of a split (those with a
	// SplitState).
	States []Message
	// TraceParent is the W3C traceparent header of the first parked copy
	// that has one; "" when none does.
	TraceParent string
}

// Run returns where the parked messages of run id are; every message
// stays parked, in its place.
func (s *Session) Run(ctx context.Context, id string) (Run, error) {
	out := Run{Parked: []Message{}, States: []Message{}}
	q := Query{Runs: []string{id}}
	edges, err := Edges(s.g, nil)
	if err != nil {
		return out, err
	}
	for _, e := range edges {
		_, err := s.m.Parked(ctx, e.Dead, apply.ParkedOptions{Op: apply.ParkedList, Match: q.match, Visit: func(d amqp.Delivery) error {
			m := describe(e, d)
			if m.SplitState != nil {
				out.States = append(out.States, m)
			} else {
				out.Parked = append(out.Parked, m)
			}
			if out.TraceParent == "" {
				out.TraceParent = headerString(d.Headers, envelope.HeaderTraceParent)
			}
			return nil
		}})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// TraceID returns the trace ID of a W3C traceparent
// ("00-TRACEID-SPANID-FLAGS"), or "" when tp is none.
func TraceID(tp string) string {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	id := tp[3:35]
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	if id == "00000000000000000000000000000000" {
		return ""
	}
	return id
}
