package e2e

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestArith runs examples/arith with two instances of every node, 1,000
// runs in two batches, SIGKILLs and restarts aggregate and poll instances
// mid-stream, and checks every run's result arrives (counted once per run;
// duplicates are logged). A group missing a part ends in multiply.dead.
func TestArith(t *testing.T) {
	e := newEnv(t, "examples/arith", "./examples/arith/cmd/arith")
	nodes := []string{"duplicate-input", "double", "square", "multiply", "rest-call"}
	procs := map[string]*proc{}
	for _, n := range nodes {
		for i := 1; i <= 2; i++ {
			name := fmt.Sprintf("%s-%d", n, i)
			procs[name] = e.start(name, n)
		}
	}
	restart := func(name string) {
		node := name[:len(name)-2]
		procs[name].kill()
		t.Logf("SIGKILLed %s", name)
		procs[name] = e.start(name+"r", node)
		procs[name+"r"] = procs[name]
	}
	result := e.consume("result")

	want := map[int64]bool{}
	batch := func(from, to int64) {
		var values []int64
		for v := from; v <= to; v++ {
			values = append(values, v)
			want[2*v*v*v] = true
		}
		e.run("publish", inputs(values), "publish", "start")
	}
	batch(1, 500)
	restart("multiply-1")

	seen := map[int64]bool{}
	dups := 0
	read := func(n int) {
		for len(seen) < n {
			var r number
			line := result.next(t)
			if _, err := fmt.Sscanf(line, `{"value":%d}`, &r.Value); err != nil {
				t.Fatalf("result %q: %v", line, err)
			}
			if !want[r.Value] {
				t.Fatalf("unexpected result %d", r.Value)
			}
			if seen[r.Value] {
				dups++
			}
			seen[r.Value] = true
		}
	}
	read(100)
	restart("rest-call-1")
	restart("multiply-2")
	batch(501, 1000)
	restart("rest-call-2")
	read(1000)
	t.Logf("all 1000 runs delivered; %d duplicate results (at-least-once across the SIGKILLs)", dups)

	// A group missing a part: square's part never comes. Its first-seen time
	// is older than the aggregate's 10-minute timeout, so the next sweep
	// parks it.
	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Publish("arith.work", "multiply", true, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: "orphan-part", CorrelationId: "orphan",
		Headers: amqp.Table{
			"x-dge-run-id": "orphan", "x-dge-source": "process.double",
			"x-dge-first-seen": time.Now().Add(-11 * time.Minute).UTC().Format(time.RFC3339Nano),
		},
		Body: []byte(`{"value": 4}`),
	}); err != nil {
		t.Fatal(err)
	}
	d := e.drain("multiply.dead", 1)[0]
	if d.Headers["x-dge-reason"] != "incomplete-group" || d.Headers["x-dge-run-id"] != "orphan" {
		t.Errorf("multiply.dead got run %v with reason %v (%v), want orphan / incomplete-group",
			d.Headers["x-dge-run-id"], d.Headers["x-dge-reason"], d.Headers["x-dge-error"])
	}
	for _, q := range []string{"input.dead", "input_copy_1.dead", "input_copy_2.dead", "rest_call.dead", "multiply.dead"} {
		if c := e.queueCount(q); c != 0 {
			t.Errorf("%s holds %d messages, want 0", q, c)
		}
	}
}
