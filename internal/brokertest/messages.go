package brokertest

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// WaitMessages gets messages from queue over conn, acking each, until it
// has n of them, and fails the test when they do not all arrive within two
// minutes.
func WaitMessages(t testing.TB, conn *amqp.Connection, queue string, n int) []amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("brokertest: open channel: %v", err)
	}
	defer ch.Close()
	deadline := time.Now().Add(2 * time.Minute)
	var got []amqp.Delivery
	for len(got) < n {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			t.Fatalf("brokertest: get from %s: %v", queue, err)
		}
		if !ok {
			if time.Now().After(deadline) {
				t.Fatalf("brokertest: queue %s: got %d of %d messages before the deadline", queue, len(got), n)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err := d.Ack(false); err != nil {
			t.Fatalf("brokertest: ack from %s: %v", queue, err)
		}
		got = append(got, d)
	}
	return got
}
