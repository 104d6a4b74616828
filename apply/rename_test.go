package apply_test

import (
	"bytes"
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

// renameSpecs returns the test graph before and after its process queue
// a_in is renamed to b_in with a moved block.
func renameSpecs(vhost string) (before, after spec) {
	before = spec{vhost: vhost, queueType: "quorum", retry: "2s"}
	after = before
	after.aQueue = "b_in"
	after.moved = [][2]string{{"a_in", "b_in"}}
	return before, after
}

// publishRetry sends n messages to the retry exchange with routing key
// edge, as a failed delivery of edge reaches edge.retry.
func (f *fixture) publishRetry(t *testing.T, edge string, n int) {
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
		msg := numbered(i)
		msg.MessageId = fmt.Sprintf("retry-%d", i)
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "g.retry", edge, true, false, msg)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
			t.Fatalf("publish to g.retry[%s] not confirmed: %v", edge, err)
		}
	}
}

// waitCount waits up to 20 s for queue to hold want ready messages.
func (f *fixture) waitCount(t *testing.T, queue string, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := f.count(t, queue)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages, want %d", queue, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMovedKeepsMessages: a_in holds 5,000 messages, a_in.dead 4 parked
// ones and a_in.retry 3 waiting ones when the graph renames a_in to b_in
// with a moved block. The plan deletes a_in and its companions with a move
// of their messages; apply without an AMQP connection refuses before
// anything changes; apply with one keeps every message (the retried ones
// reach b_in when their wait ends, so they carry the new routing key) and
// removes the old queues. A second apply, the moved block still there,
// changes nothing.
func TestMovedKeepsMessages(t *testing.T) {
	f := newFixture(t)
	before, after := renameSpecs(f.vh.Name)
	f.converge(t, before)
	const n = 5000
	f.publishNumbered(t, "a_in", n)
	f.publishNumbered(t, "a_in.dead", 4)
	f.publishRetry(t, "a_in", 3)

	p := f.mustPlan(t, after)
	moves := map[string]string{}
	for _, c := range p.Changes {
		if c.Move != nil {
			moves[c.Before.Queue.Name] = c.Move.To
			if c.Action != plan.Delete {
				t.Errorf("%s: %s with a move, want a delete", c.Address, c.Action)
			}
		}
	}
	want := map[string]string{"a_in": "b_in", "a_in.dead": "b_in.dead", "a_in.retry": "b_in.retry"}
	if fmt.Sprint(moves) != fmt.Sprint(want) {
		t.Fatalf("moves in the plan: %v, want %v", moves, want)
	}
	var txt bytes.Buffer
	if err := plan.Render(&txt, p, plan.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "move to queue b_in before the delete") {
		t.Errorf("rendered plan does not show the move:\n%s", txt.String())
	}

	if _, err := f.apply(t, p, false); err == nil || !strings.Contains(err.Error(), "DGE_AMQP_URL") {
		t.Fatalf("apply without a Mover: %v; want a refusal naming DGE_AMQP_URL", err)
	}
	if _, found := f.count(t, "b_in"); found {
		t.Fatal("the refused apply created b_in")
	}

	start := time.Now()
	res, err := apply.Apply(t.Context(), f.broker, p, apply.Options{Mover: f.mover(t)})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Logf("moved %d messages in %v", res.Moved, time.Since(start).Round(time.Millisecond))
	for _, q := range []string{"a_in", "a_in.dead", "a_in.retry"} {
		if _, found := f.count(t, q); found {
			t.Errorf("queue %s still exists after the move", q)
		}
	}
	checkNumbered(t, f.drainAll(t, "b_in.dead"), 4)
	// The 3 retried messages were in a_in, a_in.retry or b_in.retry when
	// the move ran; all end in b_in once their 2 s wait is over.
	f.waitCount(t, "b_in.retry", 0)
	f.waitCount(t, "b_in", n+3)
	got := f.drainAll(t, "b_in")
	var work []amqp.Delivery
	retried := 0
	for _, d := range got {
		if strings.HasPrefix(d.MessageId, "retry-") {
			retried++
			continue
		}
		work = append(work, d)
	}
	if retried != 3 {
		t.Errorf("%d retried messages reached b_in, want 3", retried)
	}
	checkNumbered(t, work, n)

	p2 := f.mustPlan(t, after)
	if p2.HasChanges() {
		t.Fatalf("second plan with the moved block: %d changes, want none", len(p2.Changes))
	}
	if _, err := apply.Apply(t.Context(), f.broker, p2, apply.Options{Mover: f.mover(t)}); err != nil {
		t.Fatalf("second apply: %v", err)
	}
}

// TestMovedRefusesConsumers: a renamed queue that still has a consumer (a
// program of the old version) is warned of in the plan and refused by
// apply before anything changes.
func TestMovedRefusesConsumers(t *testing.T) {
	f := newFixture(t)
	before, after := renameSpecs(f.vh.Name)
	f.converge(t, before)
	f.publishNumbered(t, "a_in", 5)
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("a_in", "old-version", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// The management API's consumer count lags; wait for the plan to see it.
	var p *plan.Plan
	deadline := time.Now().Add(15 * time.Second)
	for {
		p = f.mustPlan(t, after)
		if len(p.Diagnostics) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Severity != plan.SeverityWarning || !strings.Contains(p.Diagnostics[0].Summary, "a_in is moved to b_in but has 1 consumer") {
		t.Fatalf("plan diagnostics: %+v; want a warning of a_in's consumer", p.Diagnostics)
	}
	_, err = apply.Apply(t.Context(), f.broker, p, apply.Options{Mover: f.mover(t)})
	var unsafe *apply.UnsafeError
	if !errors.As(err, &unsafe) || len(unsafe.Queues) != 1 || unsafe.Queues[0].MoveTo != "b_in" || !strings.Contains(err.Error(), "stop the programs") {
		t.Fatalf("apply with a consumer on a_in: %v; want a refusal naming a_in's move and the fix", err)
	}
	if _, found := f.count(t, "b_in"); found {
		t.Error("the refused apply created b_in")
	}
}

// TestMovedInterruptedConverges: an apply cancelled while it moves a_in's
// messages leaves every message in a_in or b_in; the next apply finishes
// the move and nothing is lost (duplicates are counted, not failed).
func TestMovedInterruptedConverges(t *testing.T) {
	f := newFixture(t)
	before, after := renameSpecs(f.vh.Name)
	f.converge(t, before)
	const n = 5000
	f.publishNumbered(t, "a_in", n)

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if got, found := f.count(t, "b_in"); found && got >= n/2 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err := apply.Apply(ctx, f.broker, f.mustPlan(t, after), apply.Options{Mover: f.mover(t)})
	cancel()
	t.Logf("interrupted apply: %v", err)

	res, err := apply.Apply(t.Context(), f.broker, f.mustPlan(t, after), apply.Options{Mover: f.mover(t)})
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	t.Logf("the second apply moved %d messages", res.Moved)
	if _, found := f.count(t, "a_in"); found {
		t.Error("a_in still exists after the second apply")
	}
	seen := map[string]int{}
	for _, d := range f.drainAll(t, "b_in") {
		seen[d.MessageId]++
	}
	dups := 0
	for i := range n {
		c := seen[fmt.Sprintf("m-%d", i)]
		if c == 0 {
			t.Errorf("message m-%d is lost", i)
		}
		dups += max(c-1, 0)
	}
	t.Logf("%d duplicates", dups)
	f.assertNoChanges(t, after)
}
