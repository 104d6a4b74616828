package parked

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestParkedAt: a parked copy's time is the runtime's x-dge-parked-at, else
// the time the broker dead-lettered it for its delivery limit, else
// unknown: never the publish time (the issue: messages parked at 10:36:05
// showed 10:35:42).
func TestParkedAt(t *testing.T) {
	published := time.Date(2026, 12, 1, 10, 35, 42, 0, time.UTC)
	limit := time.Date(2026, 12, 1, 10, 36, 7, 0, time.UTC)
	retried := amqp.Table{"reason": "rejected", "queue": "q", "time": published.Add(time.Second)}
	for _, tt := range []struct {
		name string
		h    amqp.Table
		want string
	}{
		{"parked by a node", amqp.Table{"x-dge-parked-at": "2026-12-01T10:36:05.123Z", "x-death": []any{retried}}, "2026-12-01T10:36:05Z"},
		{"dead-lettered for its delivery limit", amqp.Table{"x-death": []any{amqp.Table{"reason": "delivery_limit", "queue": "q", "time": limit}, retried}}, "2026-12-01T10:36:07Z"},
		{"parked by an older runtime", amqp.Table{"x-death": []any{retried}}, ""},
		{"no headers", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := describe(Edge{Node: "process.a", Queue: "q", Dead: "q.dead"}, amqp.Delivery{Headers: tt.h, Timestamp: published})
			if m.ParkedAt != tt.want {
				t.Errorf("ParkedAt = %q, want %q", m.ParkedAt, tt.want)
			}
		})
	}
}
