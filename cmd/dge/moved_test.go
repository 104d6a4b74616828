package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestApplyMovedCLI: the terminate queue out holds 3 messages when the
// graph renames it to results with a moved block. dge plan shows the move
// on out's delete; dge apply dials the Mover itself, moves the 3 messages
// (their IDs and headers kept) and removes out; the next plan, the moved
// block still there, has no changes.
func TestApplyMovedCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ids := []string{"m1", "m2", "m3"}
	for _, id := range ids {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "c.work", "out", true, false, amqp.Publishing{
			Body: []byte(`{}`), DeliveryMode: amqp.Persistent, MessageId: id, Headers: amqp.Table{"x-dge-run-id": "run-" + id}})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
			t.Fatalf("publish %s not confirmed: %v", id, err)
		}
	}

	path := filepath.Join(dir, "graph.dge.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(src), `queue   = "out"`, `queue   = "results"`, 1) +
		"moved {\n  from = \"out\"\n  to   = \"results\"\n}\n"
	if err := os.WriteFile(path, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runIn(t, environ, "plan", dir)
	if code != 0 || !strings.Contains(out, "move to queue results before the delete") || !strings.Contains(out, "move to queue results.dead before the delete") {
		t.Fatalf("plan of the rename: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runIn(t, environ, "apply", "-auto-approve", dir)
	if code != 0 || !strings.Contains(out, "Moved 3 messages of renamed queues to their new queues.") {
		t.Fatalf("apply of the rename: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, _ := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 0 {
		t.Errorf("plan after the rename, the moved block still there: exit %d\n%s", code, out)
	}
	for _, id := range ids {
		d, ok, err := ch.Get("results", false)
		if err != nil || !ok || d.MessageId != id || d.Headers["x-dge-run-id"] != "run-"+id {
			t.Fatalf("message %s after the rename: ok=%v id=%q headers=%v err=%v", id, ok, d.MessageId, d.Headers, err)
		}
	}
	if _, err := ch.QueueDeclarePassive("out", true, false, false, false, nil); err == nil {
		t.Error("queue out still exists after the rename")
	}
}
