package apply

import (
	"reflect"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRedriveHeaders: a redriven copy loses its death history and its
// attempt, first-seen, poll-since and parking headers, keeps the others
// (the trace context among them) and counts one more redrive; the parked
// copy's headers are not changed.
func TestRedriveHeaders(t *testing.T) {
	parked := func() amqp.Table {
		return amqp.Table{
			"x-dge-run-id": "r1", "x-dge-source": "start.start", "x-dge-attempt": int64(3),
			"x-dge-reason": "max-attempts", "x-dge-error": "boom", "x-dge-node": "process.a",
			"x-dge-parked-at": "2026-12-01T19:00:01.000Z", "x-dge-first-seen": "2026-12-01T19:00:00Z", "x-dge-poll-since": "2026-12-01T19:00:00Z",
			"x-death": []any{amqp.Table{"count": int64(3)}},
		}
	}
	with := func(h amqp.Table, k string, v any) amqp.Table { h[k] = v; return h }
	for _, tc := range []struct {
		name string
		in   amqp.Table
		want amqp.Table
	}{
		{"first redrive", parked(), amqp.Table{"x-dge-run-id": "r1", "x-dge-source": "start.start", HeaderRedriven: int64(1)}},
		{"second redrive", with(parked(), HeaderRedriven, int64(1)), amqp.Table{"x-dge-run-id": "r1", "x-dge-source": "start.start", HeaderRedriven: int64(2)}},
		{"count sent as int32", with(parked(), HeaderRedriven, int32(4)), amqp.Table{"x-dge-run-id": "r1", "x-dge-source": "start.start", HeaderRedriven: int64(5)}},
		{"no headers", nil, amqp.Table{HeaderRedriven: int64(1)}},
		// The trace context stays: a redriven run continues its trace.
		{"trace context", with(with(parked(), "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "tracestate", "k=v"),
			amqp.Table{"x-dge-run-id": "r1", "x-dge-source": "start.start", HeaderRedriven: int64(1),
				"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before amqp.Table
			if tc.in != nil {
				before = amqp.Table{}
				for k, v := range tc.in {
					before[k] = v
				}
			}
			got := RedriveHeaders(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RedriveHeaders:\n got %v\nwant %v", got, tc.want)
			}
			if tc.in != nil && !reflect.DeepEqual(tc.in, before) {
				t.Errorf("RedriveHeaders changed its input: %v, was %v", tc.in, before)
			}
		})
	}
}
