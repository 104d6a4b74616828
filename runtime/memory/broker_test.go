package memory

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/topology"
)

func TestBrokerQueuesAreTheTopology(t *testing.T) {
	g := specGraph(topology.Quorum)
	m := New(g, Options{})
	defer m.Close()
	var want []string
	for _, line := range strings.Split(g.TopologyText(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "queue" {
			want = append(want, f[1])
		}
	}
	slices.Sort(want)
	if got := m.Queues(); !slices.Equal(got, want) {
		t.Errorf("queues %v, want the topology's %v", got, want)
	}
}

func TestBrokerIdleDroppedAndPending(t *testing.T) {
	g := specGraph(topology.Quorum)
	m := New(g, Options{RetryDelay: time.Millisecond})
	defer m.Close()
	c := dialClient(t, m)
	if err := m.WaitIdle(t.Context()); err != nil {
		t.Fatalf("WaitIdle on an empty broker: %v", err)
	}
	c.publish(c.channel(), g.WorkExchange, "work", msg(1))
	c.publish(c.channel(), g.WorkExchange, "work.dead", msg(2))
	if p := m.Pending(); len(p) != 1 || p["work"] != 1 || m.Live() != 1 {
		t.Errorf("pending %v, live %d; want work: 1 (dead queues do not count)", p, m.Live())
	}
	// Past the delivery limit the message goes to work.retry and is dropped
	// there (see the conformance suite's DeliveryLimit).
	for range g.DeliveryLimit() + 1 {
		ch, ds := c.consume("work", 1)
		next(t, ds)
		if p := m.Pending(); p["work"] != 1 {
			t.Errorf("pending %v with the delivery unacked, want work: 1", p)
		}
		ch.Close()
	}
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := m.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	if m.Dropped() != 1 || len(m.Pending()) != 0 {
		t.Errorf("dropped %d, pending %v; want 1 dropped, nothing pending", m.Dropped(), m.Pending())
	}
	dead, err := m.Messages("work.dead")
	if err != nil || len(dead) != 1 || dead[0].MessageID != "m2" {
		t.Errorf("work.dead holds %v (%v), want m2", dead, err)
	}
	if _, err := m.Messages("nope"); !errors.Is(err, dge.ErrNotFound) {
		t.Errorf("Messages(nope): %v, want dge.ErrNotFound", err)
	}
}

func TestBrokerCloseStopsEverything(t *testing.T) {
	before := goruntime.NumGoroutine()
	g := specGraph(topology.Quorum)
	m := New(g, Options{})
	conn, err := m.Dial(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel(t.Context(), 4)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(context.Background(), "work", 1)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan bool)
	go func() { _, ok := ds.Next(); ended <- !ok }()
	// Messages waiting on TTL timers.
	for i := range 3 {
		conf, err := ch.Publish(t.Context(), g.RetryExchange, "work", msg(i))
		if err != nil || conf.Wait(t.Context()) != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	idle := make(chan error)
	go func() { idle <- m.WaitIdle(context.Background()) }()
	m.Close()
	if !<-ended {
		t.Error("Next returned a delivery after Close")
	}
	if err := <-idle; err == nil {
		t.Error("WaitIdle returned nil after Close with messages left")
	}
	select {
	case <-conn.Done():
	default:
		t.Error("connection not done after Close")
	}
	if _, err := m.Dial(t.Context(), "late"); err == nil {
		t.Error("Dial succeeded after Close")
	}
	if _, err := ch.Publish(t.Context(), g.WorkExchange, "work", msg(9)); err == nil {
		t.Error("Publish succeeded after Close")
	}
	// Every goroutine ends (timers stopped).
	deadline := time.Now().Add(deadline)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBrokerAckErrors(t *testing.T) {
	m := New(specGraph(topology.Quorum), Options{})
	defer m.Close()
	c := dialClient(t, m)
	ch := c.channel()
	if err := ch.Ack(7, false); err == nil {
		t.Error("ack of an unknown tag succeeded")
	}
	select {
	case <-ch.Done():
	default:
		t.Error("channel still open after an unknown tag (RabbitMQ closes it: 406)")
	}
	if err := ch.Reject(1); err == nil {
		t.Error("reject on a closed channel succeeded")
	}
}

// deadline bounds every wait: long enough for a loaded machine, short
// enough that a lost message fails the test.
const deadline = time.Minute

// msg is the i-th test message.
func msg(i int) dge.Message {
	return dge.Message{
		Body:      fmt.Appendf(nil, `{"value":%d}`, i),
		MessageID: fmt.Sprint("m", i),
		RunID:     fmt.Sprint("run", i),
		Source:    "start.start",
		Attempt:   1,
	}
}

// client is one connection with helpers that fail the test.
type client struct {
	t    *testing.T
	conn dge.Conn
}

func dialClient(t *testing.T, b *Broker) *client {
	t.Helper()
	conn, err := b.Dial(t.Context(), t.Name())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}
}

func (c *client) channel() dge.Channel {
	c.t.Helper()
	ch, err := c.conn.Channel(c.t.Context(), 64)
	if err != nil {
		c.t.Fatalf("open channel: %v", err)
	}
	c.t.Cleanup(func() { ch.Close() })
	return ch
}

// publish publishes m and waits for its confirmation.
func (c *client) publish(ch dge.Channel, exchange, key string, m dge.Message) {
	c.t.Helper()
	conf, err := ch.Publish(c.t.Context(), exchange, key, m)
	if err == nil {
		err = conf.Wait(c.t.Context())
	}
	if err != nil {
		c.t.Fatalf("publish %s to %s with key %s: %v", m.MessageID, exchange, key, err)
	}
}

// consume starts a consumer of queue on a new channel.
func (c *client) consume(queue string, prefetch int) (dge.Channel, dge.Consumer) {
	c.t.Helper()
	ch := c.channel()
	ds, err := ch.Consume(context.Background(), queue, prefetch)
	if err != nil {
		c.t.Fatalf("consume %s: %v", queue, err)
	}
	return ch, ds
}

// next returns the next delivery, failing the test if the stream ends or
// nothing comes before the deadline.
func next(t *testing.T, ds dge.Deliveries) dge.Delivery {
	t.Helper()
	type res struct {
		d  dge.Delivery
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
	case <-time.After(deadline):
		t.Fatalf("no delivery within %s", deadline)
		return dge.Delivery{}
	}
}
