package amqpcount_test

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/internal/amqpcount"
	"github.com/dgehq/dge/internal/brokertest"
)

var _ apply.Counter = (*amqpcount.Counter)(nil)

// TestCount: on the real broker, Count returns the ready messages and the
// consumers of classic and quorum queues at that instant, reports a missing
// queue as not found without error, and keeps working after one (the
// failed passive declare closes only its own channel).
func TestCount(t *testing.T) {
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name, qtype string
		messages    int
	}{{"classic3", "classic", 3}, {"quorum2", "quorum", 2}, {"consumed", "quorum", 0}} {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, amqp.Table{"x-queue-type": q.qtype}); err != nil {
			t.Fatal(err)
		}
		for range q.messages {
			dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", q.name, true, false, amqp.Publishing{Body: []byte("m")})
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
				t.Fatalf("publish to %s: confirmed %v, %v", q.name, ok, err)
			}
		}
	}
	if _, err := ch.Consume("consumed", "c1", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	c, err := amqpcount.Dial(vh.AMQPURL, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, tc := range []struct {
		queue            string
		ready, consumers int64
		found            bool
	}{
		{"classic3", 3, 0, true},
		{"missing", 0, 0, false},
		{"quorum2", 2, 0, true},
		{"consumed", 0, 1, true},
	} {
		t.Run(tc.queue, func(t *testing.T) {
			ready, consumers, found, err := c.Count(t.Context(), tc.queue)
			if err != nil || ready != tc.ready || consumers != tc.consumers || found != tc.found {
				t.Errorf("Count(%s) = %d ready, %d consumers, found %v, %v; want %d, %d, %v, nil",
					tc.queue, ready, consumers, found, err, tc.ready, tc.consumers, tc.found)
			}
		})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, _, err := c.Count(ctx, "classic3"); err != context.Canceled {
		t.Errorf("Count with a cancelled context: %v; want context.Canceled", err)
	}
}
