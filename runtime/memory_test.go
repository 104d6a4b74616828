package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMemoryQueuesAreTheTopology(t *testing.T) {
	g := confGraph()
	m := newMemory(g, 0, 0)
	defer m.Close()
	var want []string
	for _, line := range strings.Split(Topology(g), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "queue" {
			want = append(want, f[1])
		}
	}
	slices.Sort(want)
	if got := m.Queues(); !slices.Equal(got, want) {
		t.Errorf("queues %v, want the topology's %v", got, want)
	}
}

func TestMemoryIdleDroppedAndPending(t *testing.T) {
	g := confGraph()
	m := newMemory(g, time.Millisecond, 0)
	defer m.Close()
	c := dialClient(t, m)
	if err := m.WaitIdle(t.Context()); err != nil {
		t.Fatalf("WaitIdle on an empty broker: %v", err)
	}
	c.publish(c.channel(), g.WorkExchange, "work", confMsg(1))
	c.publish(c.channel(), g.WorkExchange, "work.dead", confMsg(2))
	if p := m.Pending(); len(p) != 1 || p["work"] != 1 || m.Live() != 1 {
		t.Errorf("pending %v, live %d; want work: 1 (dead queues do not count)", p, m.Live())
	}
	// Past the delivery limit the message goes to work.retry and is dropped
	// there (see the conformance suite's DeliveryLimit).
	for range g.Nodes[1].in.MaxAttempts + 1 {
		ch, ds := c.consume("work", 1)
		next(t, ds)
		if p := m.Pending(); p["work"] != 1 {
			t.Errorf("pending %v with the delivery unacked, want work: 1", p)
		}
		ch.Close()
	}
	ctx, cancel := context.WithTimeout(t.Context(), confDeadline)
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
	if _, err := m.Messages("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Messages(nope): %v, want ErrNotFound", err)
	}
}

func TestMemoryCloseStopsEverything(t *testing.T) {
	before := goruntime.NumGoroutine()
	g := confGraph()
	m := newMemory(g, 0, 0)
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
		conf, err := ch.Publish(t.Context(), g.RetryExchange, "work", confMsg(i))
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
	if _, err := ch.Publish(t.Context(), g.WorkExchange, "work", confMsg(9)); err == nil {
		t.Error("Publish succeeded after Close")
	}
	// Every goroutine ends (timers stopped).
	deadline := time.Now().Add(confDeadline)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemoryAckErrors(t *testing.T) {
	m := newMemory(confGraph(), 0, 0)
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
