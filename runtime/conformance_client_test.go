package runtime

import (
	"context"
	"testing"
	"time"
)

// client is one connection with helpers that fail the test.
type client struct {
	t    *testing.T
	conn Conn
}

func dialClient(t *testing.T, tr Transport) *client {
	t.Helper()
	conn, err := tr.Dial(t.Context(), t.Name())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}
}

func (c *client) channel() Channel {
	c.t.Helper()
	ch, err := c.conn.Channel(c.t.Context(), 64)
	if err != nil {
		c.t.Fatalf("open channel: %v", err)
	}
	c.t.Cleanup(func() { ch.Close() })
	return ch
}

// publish publishes m and waits for its confirmation.
func (c *client) publish(ch Channel, exchange, key string, m Message) {
	c.t.Helper()
	conf, err := ch.Publish(c.t.Context(), exchange, key, m)
	if err == nil {
		err = conf.Wait(c.t.Context())
	}
	if err != nil {
		c.t.Fatalf("publish %s to %s with key %s: %v", m.MessageID, exchange, key, err)
	}
}

// consume starts a consumer of queue on a new channel. Its context is not
// the test's: amqp091 cancels a consumer when its context ends, and that
// cancel races with the channel's Close in t.Cleanup (two RPCs at once on
// one channel can leave Close waiting forever).
func (c *client) consume(queue string, prefetch int) (Channel, Consumer) {
	c.t.Helper()
	ch := c.channel()
	ds, err := ch.Consume(context.Background(), queue, prefetch)
	if err != nil {
		c.t.Fatalf("consume %s: %v", queue, err)
	}
	return ch, ds
}

// confDeadline bounds every wait of the conformance tests: long enough for
// a loaded machine, short enough that a lost message fails the test.
const confDeadline = time.Minute

// next returns the next delivery, failing the test if the stream ends or
// nothing comes before the deadline.
func next(t *testing.T, ds Deliveries) Delivery {
	t.Helper()
	type res struct {
		d  Delivery
		ok bool
	}
	got := make(chan res, 1)
	go func() { d, ok := ds.Next(); got <- res{d, ok} }()
	select {
	case r := <-got:
		if !r.ok {
			t.Fatal("delivery stream ended")
		}
		return r.d
	case <-time.After(confDeadline):
		t.Fatalf("no delivery within %s", confDeadline)
		return Delivery{}
	}
}

// ids returns the message IDs of ds.
func ids(ds []Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.MessageID
	}
	return out
}
