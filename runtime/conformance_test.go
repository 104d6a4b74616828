package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/google/go-cmp/cmp"
)

// transportSetup returns a Transport to a broker that holds graph g's
// topology and nothing else, private to the test.
type transportSetup func(t *testing.T, g Graph) Transport

// memorySetup is the in-memory broker.
func memorySetup(t *testing.T, g Graph) Transport {
	m := newMemory(g, 0, 0)
	t.Cleanup(func() { m.Close() })
	return m
}

// rabbitSetup is RabbitMQ: a vhost of the test's own, with the topology
// declared as dge apply creates it (quorum queues).
func rabbitSetup(t *testing.T, g Graph) Transport {
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	if err := brokertest.Declare(conn, g.topologyParams()); err != nil {
		t.Fatalf("declare topology: %v", err)
	}
	return AMQP{URL: vh.AMQPURL}
}

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	testTransport(t, memorySetup)
	testNodes(t, memorySetup)
	t.Run("Split", func(t *testing.T) { testSplit(t, memorySetup) })
	t.Run("Gather", func(t *testing.T) { testGather(t, memorySetup) })
	t.Run("Route", func(t *testing.T) { testRoute(t, memorySetup) })
	t.Run("Probes", func(t *testing.T) { testProbes(t, memorySetup) })
	t.Run("HeaderFuzz", func(t *testing.T) { t.Parallel(); testHeaderFuzz(t, memorySetup) })
}

func TestConformanceRabbitMQ(t *testing.T) {
	testTransport(t, rabbitSetup)
	testNodes(t, rabbitSetup)
	t.Run("Split", func(t *testing.T) { testSplit(t, rabbitSetup) })
	t.Run("Gather", func(t *testing.T) { testGather(t, rabbitSetup) })
	t.Run("Route", func(t *testing.T) { testRoute(t, rabbitSetup) })
	t.Run("Probes", func(t *testing.T) { testProbes(t, rabbitSetup) })
	t.Run("HeaderFuzz", func(t *testing.T) { t.Parallel(); testHeaderFuzz(t, rabbitSetup) })
}

// confGraph has one queue of each role: "work" (process), "join"
// (aggregate: single active consumer), "polled" (poll: polled.poll) and
// "result" (terminate). Handlers are never called by the transport tests.
func confGraph() Graph {
	g := testGraph("conf",
		Start[num]("start", "work"),
		Process[num, num]("p", testEdge("work"), double, "join"),
		Aggregate[num, num]("j", testEdge("join"), []string{"process.p", "process.q"}, time.Minute,
			func(_ context.Context, parts []num) (num, error) { return parts[0], nil }, "polled"),
		Poll[num, num]("poll", testEdge("polled"), confPoll, time.Minute,
			func(_ context.Context, n num) (num, bool, error) { return n, true, nil }, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	g.PollExchange = "conf.poll"
	return g
}

const confPoll = 200 * time.Millisecond

// confMsg is the i-th test message.
func confMsg(i int) Message {
	return Message{
		Body:      fmt.Appendf(nil, `{"value":%d}`, i),
		MessageID: fmt.Sprint("m", i),
		RunID:     fmt.Sprint("run", i),
		Source:    "start.start",
		Attempt:   1,
		Headers:   map[string]any{"x-test": fmt.Sprint("h", i)},
	}
}

// testTransport is the conformance suite of a Transport: what the runtime
// relies on, checked the same way against every implementation.
func testTransport(t *testing.T, setup transportSetup) {
	g := confGraph()

	t.Run("PublishConsumeAck", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		for i := range 3 {
			c.publish(pub, g.WorkExchange, "work", confMsg(i))
		}
		ch, ds := c.consume("work", 10)
		for i := range 3 {
			d := next(t, ds)
			want := confMsg(i)
			if string(d.Body) != string(want.Body) || d.MessageID != want.MessageID || d.RunID != want.RunID ||
				d.Source != want.Source || d.Attempt != want.Attempt || d.Headers["x-test"] != want.Headers["x-test"] {
				t.Errorf("delivery %d: %+v, want the fields of %+v", i, d, want)
			}
			for _, h := range []string{HeaderRunID, HeaderSource, HeaderAttempt, "x-delivery-count"} {
				if _, ok := d.Headers[h]; ok {
					t.Errorf("delivery %d: header %s left in Headers (it is carried in a field)", i, h)
				}
			}
			if d.Redelivered || d.DeliveryCount != 0 || len(d.Deaths) != 0 || d.Timestamp.IsZero() {
				t.Errorf("delivery %d: redelivered %v, count %d, deaths %v, timestamp %v; want a first delivery with a timestamp",
					i, d.Redelivered, d.DeliveryCount, d.Deaths, d.Timestamp)
			}
			if err := ch.Ack(d.Tag, false); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		ch.Close()
		// Every message was acked: a new consumer sees only what comes next.
		c.publish(pub, g.WorkExchange, "work", confMsg(99))
		_, ds = c.consume("work", 10)
		if d := next(t, ds); d.MessageID != "m99" {
			t.Errorf("after acking every message, got %s, want m99", d.MessageID)
		}
	})

	t.Run("UnackedRedeliveredOnClose", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		c.publish(c.channel(), g.WorkExchange, "work", confMsg(1))
		ch, ds := c.consume("work", 10)
		first := next(t, ds)
		ch.Close()
		ch, ds = c.consume("work", 10)
		d := next(t, ds)
		if d.MessageID != first.MessageID || string(d.Body) != string(first.Body) || !d.Redelivered || d.DeliveryCount != 1 {
			t.Errorf("after close: %s redelivered %v count %d; want m1 redelivered with count 1", d.MessageID, d.Redelivered, d.DeliveryCount)
		}
		if err := ch.Ack(d.Tag, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RejectRetriesThroughRetryQueue", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		c.publish(c.channel(), g.WorkExchange, "work", confMsg(1))
		ch, ds := c.consume("work", 10)
		d := next(t, ds)
		for round := 1; round <= 2; round++ {
			if err := ch.Reject(d.Tag); err != nil {
				t.Fatal(err)
			}
			d = next(t, ds)
			want := []Death{{Queue: "work.retry", Reason: "expired", Count: round}, {Queue: "work", Reason: "rejected", Count: round}}
			if diff := cmp.Diff(want, d.Deaths); diff != "" {
				t.Errorf("round %d: x-death (-want +got):\n%s", round, diff)
			}
			if d.MessageID != "m1" || d.Headers["x-test"] != "h1" || d.Redelivered || d.DeliveryCount != 0 {
				t.Errorf("round %d: %s x-test %v redelivered %v count %d; want m1 with its headers, a fresh delivery",
					round, d.MessageID, d.Headers["x-test"], d.Redelivered, d.DeliveryCount)
			}
			if d.Headers["x-first-death-queue"] != "work" || d.Headers["x-first-death-reason"] != "rejected" {
				t.Errorf("round %d: x-first-death %v/%v, want work/rejected", round, d.Headers["x-first-death-queue"], d.Headers["x-first-death-reason"])
			}
			if got := d.attempt("work"); got != round+1 {
				t.Errorf("round %d: attempt %d, want %d", round, got, round+1)
			}
		}
		if err := ch.Ack(d.Tag, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RedeliveredThenRejected", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		c.publish(c.channel(), g.WorkExchange, "work", confMsg(1))
		ch, ds := c.consume("work", 10)
		next(t, ds)
		ch.Close()
		ch, ds = c.consume("work", 10)
		d := next(t, ds)
		if err := ch.Reject(d.Tag); err != nil {
			t.Fatal(err)
		}
		d = next(t, ds)
		// The count of earlier deliveries does not travel with a
		// dead-lettered message: it is per queue entry.
		if d.DeliveryCount != 0 || d.Redelivered || d.attempt("work") != 2 {
			t.Errorf("back from retry: count %d redelivered %v attempt %d; want 0, false, 2", d.DeliveryCount, d.Redelivered, d.attempt("work"))
		}
	})

	t.Run("DeliveryLimit", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		c.publish(c.channel(), g.WorkExchange, "work", confMsg(1))
		limit := g.Nodes[1].in.MaxAttempts
		for i := 0; i <= limit; i++ {
			ch, ds := c.consume("work", 10)
			d := next(t, ds)
			if d.DeliveryCount != i || len(d.Deaths) != 0 {
				t.Fatalf("delivery %d: count %d deaths %v; want count %d, no deaths", i+1, d.DeliveryCount, d.Deaths, i)
			}
			ch.Close()
		}
		// Past the limit, the broker dead-letters it to the retry queue;
		// when it expires there, its way back to Q is a dead-letter cycle
		// with no rejection in it, and RabbitMQ drops it. A sentinel
		// published after the message would have been back shows it is not.
		time.Sleep(4 * g.Nodes[1].in.Retry)
		c.publish(c.channel(), g.WorkExchange, "work", confMsg(2))
		ch, ds := c.consume("work", 10)
		if d := next(t, ds); d.MessageID != "m2" {
			t.Errorf("got %s (deaths %v), want the sentinel m2: a message past the delivery limit must not come back through the retry queue",
				d.MessageID, d.Deaths)
		}
		_ = ch.Ack(0, true)
	})

	t.Run("ParkToDeadQueue", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		m := confMsg(1)
		m.Headers[HeaderReason] = "permanent"
		m.Attempt = 3
		c.publish(c.channel(), g.WorkExchange, "work.dead", m)
		ch, ds := c.consume("work.dead", 10)
		d := next(t, ds)
		if d.MessageID != "m1" || d.Headers[HeaderReason] != "permanent" || d.Headers["x-test"] != "h1" || d.Attempt != 3 {
			t.Errorf("parked copy %s reason %v x-test %v attempt %d; want m1, permanent, h1, 3", d.MessageID, d.Headers[HeaderReason], d.Headers["x-test"], d.Attempt)
		}
		_ = ch.Ack(d.Tag, false)
	})

	t.Run("UnroutableReturned", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ch := c.channel()
		conf, err := ch.Publish(t.Context(), g.WorkExchange, "nowhere", confMsg(1))
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if err := conf.Wait(t.Context()); !errors.Is(err, ErrReturned) {
			t.Errorf("confirmation of an unroutable publish: %v, want an error wrapping ErrReturned", err)
		}
		// The channel stays usable.
		c.publish(ch, g.WorkExchange, "work", confMsg(2))
		_, ds := c.consume("work", 1)
		if d := next(t, ds); d.MessageID != "m2" {
			t.Errorf("got %s, want m2 (the returned message must not be stored)", d.MessageID)
		}
	})

	t.Run("MissingExchange", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ch := c.channel()
		conf, err := ch.Publish(t.Context(), "no.such.exchange", "work", confMsg(1))
		if err == nil {
			err = conf.Wait(t.Context())
		}
		if err == nil {
			t.Fatal("publish to a missing exchange succeeded")
		}
		select {
		case <-ch.Done():
		case <-time.After(confDeadline):
			t.Errorf("the channel is still open after a publish to a missing exchange (RabbitMQ closes it: 404)")
		}
	})

	t.Run("CheckQueueAndExchange", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ctx := t.Context()
		for _, q := range []string{"work", "work.retry", "work.dead", "polled.poll", "join", "result.dead"} {
			if n, err := c.conn.CheckQueue(ctx, q); err != nil || n != 0 {
				t.Errorf("CheckQueue(%s) = %d, %v; want 0 ready messages", q, n, err)
			}
		}
		for _, x := range []string{g.WorkExchange, g.RetryExchange, g.PollExchange} {
			if err := c.conn.CheckExchange(ctx, x); err != nil {
				t.Errorf("CheckExchange(%s): %v", x, err)
			}
		}
		if _, err := c.conn.CheckQueue(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CheckQueue(nope): %v, want ErrNotFound", err)
		}
		if err := c.conn.CheckExchange(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CheckExchange(nope): %v, want ErrNotFound", err)
		}
		if _, err := c.conn.CheckQueue(ctx, "start.dead"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CheckQueue(start.dead): %v, want ErrNotFound (start nodes have no queue)", err)
		}
	})

	// CheckQueue counts the ready messages only, as a passive declare does:
	// a delivery awaiting its ack is not ready.
	t.Run("CheckQueueCountsReady", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ch := c.channel()
		for i := range 3 {
			c.publish(ch, g.WorkExchange, "work", confMsg(i))
		}
		want := func(n int) {
			t.Helper()
			got, err := c.conn.CheckQueue(t.Context(), "work")
			if err != nil || got != n {
				t.Errorf("CheckQueue(work) = %d, %v; want %d", got, err, n)
			}
		}
		want(3)
		_, ds := c.consume("work", 1)
		next(t, ds)
		deadline := time.Now().Add(confDeadline)
		for n, _ := c.conn.CheckQueue(t.Context(), "work"); n != 2 && time.Now().Before(deadline); n, _ = c.conn.CheckQueue(t.Context(), "work") {
			time.Sleep(20 * time.Millisecond)
		}
		want(2)
	})

	t.Run("ConsumeMissingQueue", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ch := c.channel()
		if _, err := ch.Consume(context.Background(), "nope", 1); err == nil {
			t.Error("consuming a missing queue succeeded")
		}
	})

	t.Run("SingleActiveConsumerHandOver", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		ch1, ds1 := c.consume("join", 10)
		ch2, ds2 := c.consume("join", 10)
		c.publish(pub, g.WorkExchange, "join", confMsg(1))
		c.publish(pub, g.WorkExchange, "join", confMsg(2))
		// The first consumer is the active one: it gets both.
		d1, d2 := next(t, ds1), next(t, ds1)
		if d1.MessageID != "m1" || d2.MessageID != "m2" {
			t.Fatalf("active consumer got %s, %s; want m1, m2", d1.MessageID, d2.MessageID)
		}
		if err := ch1.Ack(d1.Tag, false); err != nil {
			t.Fatal(err)
		}
		// Closing it hands over to the second, which gets the unacked m2
		// back first, then new messages.
		ch1.Close()
		c.publish(pub, g.WorkExchange, "join", confMsg(3))
		got := []Delivery{next(t, ds2), next(t, ds2)}
		if !slices.Equal(ids(got), []string{"m2", "m3"}) || !got[0].Redelivered {
			t.Errorf("standby consumer got %v (m2 redelivered %v); want [m2 m3] with m2 redelivered", ids(got), got[0].Redelivered)
		}
		_ = ch2.Ack(got[1].Tag, true)
	})

	t.Run("PollDelayRoundTrip", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		ch, ds := c.consume("polled", 10)
		start := time.Now()
		c.publish(c.channel(), g.PollExchange, "polled", confMsg(1))
		d := next(t, ds)
		if waited := time.Since(start); waited < confPoll-20*time.Millisecond {
			t.Errorf("came back after %s, before the poll interval %s", waited, confPoll)
		}
		want := []Death{{Queue: "polled.poll", Reason: "expired", Count: 1}}
		if diff := cmp.Diff(want, d.Deaths); diff != "" || d.MessageID != "m1" {
			t.Errorf("%s back from the poll queue, x-death (-want +got):\n%s", d.MessageID, diff)
		}
		_ = ch.Ack(d.Tag, false)
	})

	t.Run("PrefetchBound", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		for i := range 6 {
			c.publish(pub, g.WorkExchange, "work", confMsg(i))
		}
		ch, ds := c.consume("work", 3)
		var got []Delivery
		for range 3 {
			got = append(got, next(t, ds))
		}
		fourth := make(chan Delivery, 1)
		go func() {
			if d, ok := ds.Next(); ok {
				fourth <- d
			}
		}()
		// Absence can only be observed for a while: a broker that breaks
		// the bound shows it within this time (a slow one only hides it).
		select {
		case d := <-fourth:
			t.Fatalf("got %s with 3 deliveries unacked and prefetch 3", d.MessageID)
		case <-time.After(300 * time.Millisecond):
		}
		if err := ch.Ack(got[0].Tag, false); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-fourth:
			got = append(got, d)
		case <-time.After(confDeadline):
			t.Fatal("no delivery after an ack made room")
		}
		if d := got[3]; d.MessageID != "m3" {
			t.Errorf("fourth delivery %s, want m3", d.MessageID)
		}
	})

	t.Run("MultipleAck", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		for i := range 5 {
			c.publish(pub, g.WorkExchange, "work", confMsg(i))
		}
		ch, ds := c.consume("work", 10)
		var got []Delivery
		for range 5 {
			got = append(got, next(t, ds))
		}
		if err := ch.Ack(got[2].Tag, true); err != nil {
			t.Fatal(err)
		}
		ch.Close()
		c.publish(pub, g.WorkExchange, "work", confMsg(9))
		ch, ds = c.consume("work", 10)
		again := []Delivery{next(t, ds), next(t, ds), next(t, ds)}
		if !slices.Equal(ids(again), []string{"m3", "m4", "m9"}) || !again[0].Redelivered || !again[1].Redelivered || again[2].Redelivered {
			t.Errorf("after acking up to m2: %v redelivered %v %v %v; want [m3 m4 m9], the first two redelivered",
				ids(again), again[0].Redelivered, again[1].Redelivered, again[2].Redelivered)
		}
		_ = ch.Ack(0, true)
	})

	t.Run("CancelEndsStream", func(t *testing.T) {
		t.Parallel()
		c := dialClient(t, setup(t, g))
		_, ds := c.consume("work", 10)
		if err := ds.Cancel(); err != nil {
			t.Fatal(err)
		}
		ended := make(chan bool, 1)
		go func() { _, ok := ds.Next(); ended <- !ok }()
		select {
		case e := <-ended:
			if !e {
				t.Error("got a delivery from an empty queue after Cancel")
			}
		case <-time.After(confDeadline):
			t.Error("the stream did not end after Cancel")
		}
	})

	t.Run("Resubscribe", func(t *testing.T) {
		// A new window: a second consumer on the same channel with its own
		// prefetch, then the first cancelled. The first's deliveries stay
		// unacked on the channel, do not count against the second's
		// prefetch, and one multiple ack over the channel's tags settles
		// both consumers' deliveries.
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		for i := range 6 {
			c.publish(pub, g.WorkExchange, "work", confMsg(i))
		}
		ch, old := c.consume("work", 2)
		got := []Delivery{next(t, old), next(t, old)}
		cur, err := ch.Consume(context.Background(), "work", 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Cancel(); err != nil {
			t.Fatal(err)
		}
		ended := make(chan bool, 1)
		go func() { _, ok := old.Next(); ended <- !ok }()
		select {
		case e := <-ended:
			if !e {
				t.Error("the cancelled consumer got a delivery beyond its prefetch")
			}
		case <-time.After(confDeadline):
			t.Fatal("the cancelled consumer's stream did not end")
		}
		for range 3 {
			got = append(got, next(t, cur))
		}
		if !slices.Equal(ids(got), []string{"m0", "m1", "m2", "m3", "m4"}) {
			t.Fatalf("deliveries %v, want [m0 m1 m2 m3 m4]", ids(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Tag <= got[i-1].Tag {
				t.Fatalf("delivery tags %d then %d: want them increasing across the channel's consumers", got[i-1].Tag, got[i].Tag)
			}
		}
		// Cancelled first, so that the ack makes room for nothing.
		if err := cur.Cancel(); err != nil {
			t.Fatal(err)
		}
		if err := ch.Ack(got[4].Tag, true); err != nil {
			t.Fatal(err)
		}
		ch.Close()
		_, ds := c.consume("work", 10)
		if d := next(t, ds); d.MessageID != "m5" || d.Redelivered {
			t.Errorf("after the multiple ack: %s redelivered %v; want m5, a first delivery", d.MessageID, d.Redelivered)
		}
	})

	t.Run("RejectAfterCancel", func(t *testing.T) {
		// A delivery of a cancelled consumer is still settled on its
		// channel: rejected, it dead-letters through the retry queue and
		// comes back to the channel's current consumer.
		t.Parallel()
		c := dialClient(t, setup(t, g))
		pub := c.channel()
		c.publish(pub, g.WorkExchange, "work", confMsg(1))
		ch, old := c.consume("work", 1)
		d := next(t, old)
		cur, err := ch.Consume(context.Background(), "work", 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Cancel(); err != nil {
			t.Fatal(err)
		}
		if err := ch.Reject(d.Tag); err != nil {
			t.Fatal(err)
		}
		back := next(t, cur)
		if back.MessageID != "m1" || back.attempt("work") != 2 {
			t.Errorf("got %s at attempt %d (deaths %v); want m1 back from the retry queue for attempt 2", back.MessageID, back.attempt("work"), back.Deaths)
		}
		_ = ch.Ack(back.Tag, false)
	})
}
