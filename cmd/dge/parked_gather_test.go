package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/parked"
)

// parkedStateBody is a gather's checkpoint of one state, as the gather
// parks it when split sid of run r1 times out: 97 of its 100 items held
// (all but 5, 50 and 99); its index set little-endian, 8 bytes a word.
func parkedStateBody(t *testing.T) []byte {
	t.Helper()
	have := make([]byte, 16)
	for i := range 100 {
		if i != 5 && i != 50 && i != 99 {
			have[i/8] |= 1 << (i % 8)
		}
	}
	body, err := json.Marshal(map[string]any{"epoch": 3, "states": []any{map[string]any{
		"id": "sid", "run_id": "r1", "split": "numbers", "count": 100, "have": have, "epoch": 3, "seq": 41,
		"first_seen": "2026-12-01T19:00:00Z", "attempt": 1, "failed": map[string]any{"node": "process.fib", "reason": "permanent", "error": "boom"},
		"acc": map[string]any{"sum": 12345},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func publishParked(t *testing.T, ch *amqp.Channel, queue string, p amqp.Publishing) {
	t.Helper()
	p.DeliveryMode, p.ContentType, p.Timestamp = amqp.Persistent, "application/json", time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", queue, true, false, p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
		t.Fatalf("publish to %s: confirmed %v, %v", queue, ok, err)
	}
}

// TestParkedGatherStateCLI: a gather's parked state of a split lists
// readably (which split, how many of its items), is selected by -reason
// incomplete-split, and a redrive of its run puts it back on the gather's
// edge with its state and split headers and fresh attempts, together with
// the run's failed item, as the documented recovery of a timed-out split
// says; another run's parked item stays.
func TestParkedGatherStateCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := gatherGraphDir(t, vh.Name)
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	state := parkedStateBody(t)
	publishParked(t, ch, "sum.dead", amqp.Publishing{MessageId: "state-sid", Body: state, Headers: amqp.Table{
		"x-dge-state": "checkpoint", "x-dge-split": "numbers:sid:0:100", "x-dge-run-id": "r1", "x-dge-node": "gather.sum",
		"x-dge-reason": "incomplete-split", "x-dge-error": "split sid of run r1 incomplete after 30m0s (timeout 30m0s): have 97 of 100 items, missing indexes 5, 50, 99",
		"x-dge-attempt": int64(1),
	}})
	publishParked(t, ch, "fib.dead", amqp.Publishing{MessageId: "item-5", Body: []byte(`{"n":5}`), Headers: amqp.Table{
		"x-dge-split": "numbers:sid:5:100", "x-dge-run-id": "r1", "x-dge-node": "process.fib",
		"x-dge-reason": "permanent", "x-dge-error": "boom", "x-dge-attempt": int64(1),
	}})
	publishParked(t, ch, "fib.dead", amqp.Publishing{MessageId: "other", Body: []byte(`{"n":1}`), Headers: amqp.Table{
		"x-dge-split": "numbers:s2:1:2", "x-dge-run-id": "r2", "x-dge-node": "process.fib",
		"x-dge-reason": "permanent", "x-dge-error": "boom", "x-dge-attempt": int64(1),
	}})

	code, out, errs := runIn(t, environ, "parked", "list", dir)
	if code != 0 || !strings.Contains(out, "gather.sum  sum.dead  run r1  message state-sid  incomplete-split (attempt 1)") ||
		!strings.Contains(out, "  state: gather state of split numbers (ID sid): 97 of 100 items, an item failed at process.fib\n") ||
		strings.Contains(out, `"epoch"`) || !strings.Contains(out, `  body:  {"n":5}`) {
		t.Errorf("parked list: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runIn(t, environ, "parked", "list", "-json", "-reason", "incomplete-split", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 1 {
		t.Fatalf("parked list -json -reason incomplete-split: exit %d, %d lines, want 1\n%s\n%s", code, len(lines), out, errs)
	}
	var pm parked.Message
	if err := json.Unmarshal([]byte(lines[0]), &pm); err != nil {
		t.Fatal(err)
	}
	want := parked.SplitState{Split: "numbers", ID: "sid", Have: 97, Count: 100, Failed: "process.fib"}
	if pm.Reason != "incomplete-split" || pm.Node != "gather.sum" || pm.SplitState == nil || *pm.SplitState != want {
		t.Errorf("parked list -json: %+v, split_state %+v; want incomplete-split at gather.sum, %+v", pm, pm.SplitState, want)
	}

	code, out, errs = runIn(t, environ, "parked", "redrive", "-auto-approve", "-run", "r1", dir)
	if code != 0 || !strings.Contains(out, "Redrove 2 messages") {
		t.Fatalf("parked redrive -run r1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	back := drain(t, conn, "sum")
	if len(back) != 1 || !bytes.Equal(back[0].Body, state) || back[0].MessageId != "state-sid" {
		t.Fatalf("sum after the redrive: %d messages %q; want the parked state, body unchanged", len(back), ids(back))
	}
	h := back[0].Headers
	if h["x-dge-state"] != "checkpoint" || h["x-dge-split"] != "numbers:sid:0:100" || h["x-dge-run-id"] != "r1" || h["x-dge-redriven"] != int64(1) {
		t.Errorf("redriven state's headers %v; want x-dge-state, x-dge-split and the run ID kept, x-dge-redriven 1", h)
	}
	for _, k := range []string{"x-dge-reason", "x-dge-error", "x-dge-attempt", "x-dge-node"} {
		if _, ok := h[k]; ok {
			t.Errorf("redriven state keeps %s", k)
		}
	}
	if item := drain(t, conn, "fib"); len(item) != 1 || item[0].MessageId != "item-5" {
		t.Errorf("fib after the redrive: %q; want the run's failed item item-5", ids(item))
	}
	if left := drain(t, conn, "fib.dead"); len(left) != 1 || left[0].MessageId != "other" {
		t.Errorf("fib.dead after the redrive: %q; want only run r2's item", ids(left))
	}
	if n := readyCount(t, conn, "sum.dead"); n != 0 {
		t.Errorf("sum.dead holds %d after the redrive, want 0", n)
	}
}
