package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/plan"
)

// oldObjects is what a dge before the dead-letter arguments created for s:
// the same objects and policies, but queues stamped only.
func oldObjects(t *testing.T, s spec) plan.Objects {
	t.Helper()
	top := plan.Desired(s.graph(t))
	for i, q := range top.Queues {
		args := map[string]any{plan.GraphArg: q.Arguments[plan.GraphArg]}
		if v, ok := q.Arguments["x-single-active-consumer"]; ok {
			args["x-single-active-consumer"] = v
		}
		top.Queues[i].Arguments = args
	}
	return top
}

// applyObjects makes the vhost hold top.
func (f *fixture) applyObjects(t *testing.T, top plan.Objects) {
	t.Helper()
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(top, snap, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Apply(t.Context(), f.broker, p, apply.Options{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// mover dials a Mover to the fixture's vhost, closed at the end of the
// test.
func (f *fixture) mover(t *testing.T) *apply.Mover {
	t.Helper()
	m, err := apply.DialMover(f.vh.AMQPURL, t.Name()+" mover")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// publishNumbered sends n persistent messages to queue through the default
// exchange, confirmed, each with a body, a message ID and headers that
// number it.
func (f *fixture) publishNumbered(t *testing.T, queue string, n int) {
	t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", queue, true, false, numbered(i))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
			t.Fatalf("publish to %s not confirmed: %v", queue, err)
		}
	}
}

func numbered(i int) amqp.Publishing {
	return amqp.Publishing{
		Body:          []byte(fmt.Sprintf(`{"value": %d}`, i)),
		ContentType:   "application/json",
		DeliveryMode:  amqp.Persistent,
		MessageId:     fmt.Sprintf("m-%d", i),
		CorrelationId: fmt.Sprintf("run-%d", i),
		Timestamp:     time.Unix(1700000000+int64(i), 0),
		AppId:         "keep-test",
		Headers: amqp.Table{
			"x-dge-run-id":  fmt.Sprintf("run-%d", i),
			"x-dge-attempt": int32(2),
			"x-death": []any{amqp.Table{"queue": "a_in", "reason": "rejected", "count": int64(1),
				"exchange": "g.retry", "routing-keys": []any{"a_in"}}},
		},
	}
}

// drainAll gets every ready message of queue, acking each.
func (f *fixture) drainAll(t *testing.T, queue string) []amqp.Delivery {
	t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			t.Fatalf("get from %s: %v", queue, err)
		}
		if !ok {
			return out
		}
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
}

// checkNumbered checks that ds are the n numbered messages, in order, with
// their body, properties and headers unchanged.
func checkNumbered(t *testing.T, ds []amqp.Delivery, n int) {
	t.Helper()
	if len(ds) != n {
		t.Fatalf("%d messages, want %d", len(ds), n)
	}
	for i, d := range ds {
		w := numbered(i)
		if string(d.Body) != string(w.Body) || d.MessageId != w.MessageId || d.CorrelationId != w.CorrelationId ||
			d.ContentType != w.ContentType || d.DeliveryMode != w.DeliveryMode || !d.Timestamp.Equal(w.Timestamp) || d.AppId != w.AppId {
			t.Errorf("message %d: body %s id %q corr %q type %q mode %d ts %v app %q; want them unchanged",
				i, d.Body, d.MessageId, d.CorrelationId, d.ContentType, d.DeliveryMode, d.Timestamp, d.AppId)
		}
		if d.Headers["x-dge-run-id"] != w.Headers["x-dge-run-id"] || d.Headers["x-dge-attempt"] != int32(2) {
			t.Errorf("message %d: headers %v, want x-dge-run-id and x-dge-attempt unchanged", i, d.Headers)
		}
		deaths, _ := d.Headers["x-death"].([]any)
		if len(deaths) != 1 || deaths[0].(amqp.Table)["reason"] != "rejected" {
			t.Errorf("message %d: x-death %v, want the one entry it had", i, d.Headers["x-death"])
		}
	}
}

// TestKeepMessagesUpgradesOldQueues: a vhost applied by a dge that kept the
// dead-letter settings in policies only holds N messages in a work queue.
// The new plan replaces every queue (its arguments changed); apply refuses
// without a flag, and with -keep-messages replaces them all with all N
// messages back, in order, headers and properties unchanged, and no
// temporary queue left.
func TestKeepMessagesUpgradesOldQueues(t *testing.T) {
	for _, qt := range []string{"quorum", "classic"} {
		t.Run(qt, func(t *testing.T) {
			f := newFixture(t)
			s := spec{vhost: f.vh.Name, queueType: qt, retry: "10m", poll: true}
			f.applyObjects(t, oldObjects(t, s))
			const n = 500
			f.publishNumbered(t, "a_in", n)
			f.publishNumbered(t, "p_in.retry", 3)

			p := f.mustPlan(t, s)
			replaced := 0
			for _, c := range p.Changes {
				if c.Action == plan.Replace {
					replaced++
					if !strings.HasPrefix(strings.Join(c.ForcedBy, ","), "arguments.x-dead-letter-exchange") {
						t.Errorf("%s replaced for %v; want the dead-letter arguments", c.Address, c.ForcedBy)
					}
				}
			}
			if replaced != 7 { // a_in, out, p_in and their retry queues, p_in.poll
				t.Fatalf("%d queues replaced, want 7", replaced)
			}
			if _, err := f.apply(t, p, false); !errors.As(err, new(*apply.UnsafeError)) || !strings.Contains(err.Error(), "-keep-messages") {
				t.Fatalf("apply without -keep-messages: %v; want a refusal naming -keep-messages", err)
			}

			start := time.Now()
			res, err := apply.Apply(t.Context(), f.broker, p, apply.Options{KeepMessages: f.mover(t)})
			if err != nil {
				t.Fatalf("apply -keep-messages: %v", err)
			}
			t.Logf("%s: replaced %d queues keeping %d messages in %v", qt, replaced, res.Kept, time.Since(start).Round(time.Millisecond))
			if res.Kept != n+3 {
				t.Errorf("kept %d messages, want %d", res.Kept, n+3)
			}
			f.assertNoChanges(t, s)
			snap, err := f.client.Read(t.Context(), f.vh.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range snap.Queues {
				if strings.HasSuffix(q.Name, plan.KeepSuffix) {
					t.Errorf("temporary queue %s left behind", q.Name)
				}
				if q.Name == "a_in" && q.Arguments["x-dead-letter-exchange"] != "g.retry" {
					t.Errorf("a_in after the replace: arguments %v", q.Arguments)
				}
			}
			checkNumbered(t, f.drainAll(t, "a_in"), n)
			checkNumbered(t, f.drainAll(t, "p_in.retry"), 3)
		})
	}
}

// TestKeepMessagesRefusesConsumers: a queue to replace that has a consumer
// is refused before anything changes, with the fix.
func TestKeepMessagesRefusesConsumers(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"}
	f.applyObjects(t, oldObjects(t, s))
	f.publishNumbered(t, "a_in", 5)
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("a_in", "busy", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	_, err = apply.Apply(t.Context(), f.broker, f.mustPlan(t, s), apply.Options{KeepMessages: f.mover(t)})
	var unsafe *apply.UnsafeError
	if !errors.As(err, &unsafe) || len(unsafe.Queues) != 1 || unsafe.Queues[0].Name != "a_in" || !unsafe.Queues[0].Keep ||
		!strings.Contains(err.Error(), "it has 1 consumer") || !strings.Contains(err.Error(), "stop the processes that consume") {
		t.Fatalf("apply -keep-messages with a consumer on a_in: %v; want a refusal naming a_in, its consumer and the fix", err)
	}
	if n, _ := f.count(t, "a_in"); n != 4 {
		t.Errorf("a_in holds %d ready messages after the refusal, want 4 (and 1 with the consumer)", n)
	}
	ch.Close()
	if _, found := f.count(t, plan.KeepName("a_in")); found {
		t.Errorf("the refusal created a temporary queue")
	}
}

// TestKeepMessagesFinishesAnInterruptedMove: a temporary queue left by an
// interrupted apply -keep-messages shows in the plan, and the next
// apply -keep-messages moves its messages back and deletes it.
func TestKeepMessagesFinishesAnInterruptedMove(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"}
	f.converge(t, s)
	temp := plan.KeepName("a_in")
	if err := f.client.DeclareQueue(t.Context(), f.vh.Name, plan.Queue{Name: temp, Type: "quorum", Durable: true,
		Arguments: map[string]any{plan.GraphArg: "g", plan.KeepArg: "a_in"}}); err != nil {
		t.Fatal(err)
	}
	f.publishNumbered(t, temp, 7)

	p := f.mustPlan(t, s)
	if p.HasChanges() || len(p.PendingMoves) != 1 || p.PendingMoves[0].Temporary != temp || p.PendingMoves[0].Queue != "a_in" {
		t.Fatalf("plan with a temporary queue: %d changes, pending %+v; want no change and the pending move", len(p.Changes), p.PendingMoves)
	}
	// A plain apply leaves it alone.
	if _, err := f.apply(t, p, false); err != nil {
		t.Fatal(err)
	}
	if n, found := f.count(t, temp); !found || n != 7 {
		t.Fatalf("plain apply touched the temporary queue: found=%v, %d messages", found, n)
	}
	res, err := apply.Apply(t.Context(), f.broker, p, apply.Options{KeepMessages: f.mover(t)})
	if err != nil || res.Kept != 7 {
		t.Fatalf("apply -keep-messages: kept %d, %v; want 7 moved back", res.Kept, err)
	}
	if _, found := f.count(t, temp); found {
		t.Errorf("temporary queue %s still exists", temp)
	}
	checkNumbered(t, f.drainAll(t, "a_in"), 7)
	if p := f.mustPlan(t, s); p.HasChanges() || len(p.PendingMoves) > 0 {
		t.Errorf("plan after finishing: %d changes, pending %+v", len(p.Changes), p.PendingMoves)
	}
}

// TestMoverMax: Move with Max moves that many, in order, and leaves the
// rest; moving to a queue that does not exist moves nothing.
func TestMoverMax(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"}
	f.converge(t, s)
	f.publishNumbered(t, "a_in.dead", 10)
	m := f.mover(t)
	if n, err := m.Move(t.Context(), "a_in.dead", "nowhere", apply.MoveOptions{}); err == nil || n != 0 || !strings.Contains(err.Error(), "nowhere does not exist") {
		t.Fatalf("move to a missing queue: %d, %v; want nothing moved and an error naming it", n, err)
	}
	n, err := m.Move(t.Context(), "a_in.dead", "out.dead", apply.MoveOptions{Max: 4, Window: 2})
	if err != nil || n != 4 {
		t.Fatalf("move with Max 4: %d, %v", n, err)
	}
	checkNumbered(t, f.drainAll(t, "out.dead"), 4)
	if left, _ := f.count(t, "a_in.dead"); left != 6 {
		t.Errorf("a_in.dead holds %d after moving 4 of 10, want 6", left)
	}
}

// TestMoverInterruptedLosesNothing: a move cancelled midway, its connection
// then closed, leaves every message in the source or the destination
// (possibly both), never in neither.
func TestMoverInterruptedLosesNothing(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"}
	f.converge(t, s)
	const n = 1000
	f.publishNumbered(t, "a_in.dead", n)
	m, err := apply.DialMover(f.vh.AMQPURL, t.Name()+" mover")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if got, _ := f.count(t, "out.dead"); got > 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	moved, err := m.Move(ctx, "a_in.dead", "out.dead", apply.MoveOptions{Window: 50})
	m.Close()
	t.Logf("moved %d of %d before the cancel (%v)", moved, n, err)
	seen := map[string]int{}
	for _, q := range []string{"a_in.dead", "out.dead"} {
		for _, d := range f.drainAll(t, q) {
			seen[d.MessageId]++
		}
	}
	dups := 0
	for i := range n {
		c := seen[fmt.Sprintf("m-%d", i)]
		if c == 0 {
			t.Errorf("message m-%d is in neither queue", i)
		}
		dups += max(c-1, 0)
	}
	t.Logf("%d messages in both queues", dups)
}

// TestKeepMessagesChangesTheQueueType changes a graph's queues between
// quorum and classic, a replace of every queue, with 2,000 messages
// waiting: -keep-messages keeps every one, in order, with its headers.
func TestKeepMessagesChangesTheQueueType(t *testing.T) {
	for _, c := range []struct{ from, to string }{{"quorum", "classic"}, {"classic", "quorum"}} {
		t.Run(c.from+" to "+c.to, func(t *testing.T) {
			f := newFixture(t)
			before := spec{vhost: f.vh.Name, queueType: c.from, retry: "5s"}
			f.applyObjects(t, plan.Desired(before.graph(t)))
			const n = 2000
			f.publishNumbered(t, "a_in", n)

			after := before
			after.queueType = c.to
			p := f.mustPlan(t, after)
			replaced := 0
			for _, ch := range p.Changes {
				if ch.Action == plan.Replace {
					replaced++
				}
			}
			if replaced == 0 {
				t.Fatalf("changing the queue type replaced nothing")
			}
			res, err := apply.Apply(t.Context(), f.broker, p, apply.Options{KeepMessages: f.mover(t)})
			if err != nil {
				t.Fatalf("apply -keep-messages: %v", err)
			}
			if res.Kept != n {
				t.Errorf("kept %d messages, want %d", res.Kept, n)
			}
			f.assertNoChanges(t, after)
			snap, err := f.client.Read(t.Context(), f.vh.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range snap.Queues {
				if q.Name == "a_in" && q.Type != c.to {
					t.Errorf("a_in is %s after the replace, want %s", q.Type, c.to)
				}
			}
			checkNumbered(t, f.drainAll(t, "a_in"), n)
		})
	}
}
