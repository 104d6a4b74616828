package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
)

func putPolicy(t *testing.T, vh brokertest.Vhost, name string, priority int) {
	t.Helper()
	res, err := vh.Client.PutPolicy(vh.Name, name, rabbithole.Policy{
		Pattern: ".*", ApplyTo: "queues", Priority: priority, Definition: rabbithole.PolicyDefinition{"max-length": 1000000},
	})
	if err != nil {
		t.Fatalf("put policy %s: %v", name, err)
	}
	res.Body.Close()
}

// TestPlanNamesForeignPolicyCLI: an operator's catch-all policy above dge's
// priority, added after apply, makes plan name it as an error and exit 1
// (with or without -detailed-exitcode, in text and JSON), refuses apply and
// plan -out; lowered below dge's priority, plan is clean again.
func TestPlanNamesForeignPolicyCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	putPolicy(t, vh, "ops-limit", 200)

	code, out, errs := runIn(t, environ, "plan", dir)
	if code != 1 || !strings.Contains(out, `Error: Policy "ops-limit" (priority 200) overrides dge's policies on 6 queues`) ||
		!strings.Contains(out, "lower its priority below 100") || strings.Contains(out, "No changes.") ||
		!strings.Contains(errs, "is not safe for the graph") {
		t.Fatalf("plan with a foreign catch-all policy: exit %d, want 1 and the error\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, _, _ := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 1 {
		t.Errorf("plan -detailed-exitcode: exit %d, want 1", code)
	}
	code, out, _ = runIn(t, environ, "plan", "-json", dir)
	var p struct {
		Diagnostics []struct {
			Severity, Policy string
			Queues           []string
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 1 {
		t.Fatalf("plan -json: exit %d, %v\n%s", code, err, out)
	}
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Severity != "error" || p.Diagnostics[0].Policy != "ops-limit" ||
		strings.Join(p.Diagnostics[0].Queues, ",") != "a_in,a_in.dead,a_in.retry,out,out.dead,out.retry" {
		t.Errorf("plan -json diagnostics %+v; want one error naming ops-limit and the 6 queues", p.Diagnostics)
	}
	saved := filepath.Join(t.TempDir(), "p.plan")
	if code, _, errs := runIn(t, environ, "plan", "-out", saved, dir); code != 1 || !strings.Contains(errs, "not saved") {
		t.Errorf("plan -out: exit %d, stderr %q; want 1 and not saved", code, errs)
	}
	if _, err := os.Stat(saved); err == nil {
		t.Errorf("plan -out saved a plan with errors")
	}
	dir7 := chainGraph(t, vh.Name, "7s")
	code, out, errs = runIn(t, environ, "apply", "-auto-approve", dir7)
	if code != 1 || !strings.Contains(out, `Error: Policy "ops-limit"`) || !strings.Contains(errs, "nothing was changed") {
		t.Fatalf("apply with a foreign catch-all policy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, _ := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 1 || !strings.Contains(out, "No changes to the objects") {
		t.Errorf("after the refused apply: exit %d\n%s", code, out)
	}

	// Below dge's priority it no longer replaces dge's policies, but it
	// still governs the parking queues, where dge sets none, and its
	// max-length drops parked messages there.
	putPolicy(t, vh, "ops-limit", 50)
	if code, out, errs := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 1 ||
		!strings.Contains(out, `Error: Policy "ops-limit" (priority 50) can lose messages of 2 queues`) || !strings.Contains(out, "a_in.dead, out.dead") {
		t.Errorf("plan with the policy below dge's priority: exit %d, want 1 naming the parking queues\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	res, err := vh.Client.DeletePolicy(vh.Name, "ops-limit")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code, out, errs := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("plan without the policy: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// TestApplyKeepMessagesCLI: a work queue declared the old way (dead-letter
// settings in the policy only) holding messages is refused without a flag,
// and re-created with its arguments and its messages by
// apply -keep-messages.
func TestApplyKeepMessagesCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	must := func(res interface{ Close() error }, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := vh.Client.DeleteQueue(vh.Name, "out")
	must(res.Body, err)
	res, err = vh.Client.DeclareQueue(vh.Name, "out", rabbithole.QueueSettings{Durable: true, Arguments: map[string]any{"x-dge-graph": "c"}})
	must(res.Body, err)
	res, err = vh.Client.DeclareBinding(vh.Name, rabbithole.BindingInfo{Source: "c.work", Destination: "out", DestinationType: "queue", RoutingKey: "out"})
	must(res.Body, err)
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "c.work", "out", true, false, amqp.Publishing{
			Body: []byte(`{}`), DeliveryMode: amqp.Persistent, MessageId: id, Headers: amqp.Table{"x-dge-run-id": "run-" + id}})
		if err != nil {
			t.Fatal(err)
		}
		dc.Wait()
	}

	code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir)
	if code != 1 || !strings.Contains(out, "forces replacement") || !strings.Contains(errs, "queue out: it holds 3 messages") || !strings.Contains(errs, "-keep-messages") {
		t.Fatalf("apply of the new arguments with messages in out: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runIn(t, environ, "apply", "-auto-approve", "-keep-messages", dir)
	if code != 0 || !strings.Contains(out, "queue.out: Replacement complete") || !strings.Contains(out, "Kept 3 messages of replaced queues") {
		t.Fatalf("apply -keep-messages: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, _ := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 0 {
		t.Errorf("plan after apply -keep-messages: exit %d\n%s", code, out)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		d, ok, err := ch.Get("out", false)
		if err != nil || !ok || d.MessageId != id || d.Headers["x-dge-run-id"] != "run-"+id {
			t.Fatalf("message %s after the replace: ok=%v id=%q headers=%v err=%v", id, ok, d.MessageId, d.Headers, err)
		}
		d.Ack(false)
	}
}
