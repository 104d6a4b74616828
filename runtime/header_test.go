package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dgehq/dge/envelope"
	amqp "github.com/rabbitmq/amqp091-go"
)

// TestLongRunIDParkedAlone publishes, as an outside producer, a message
// whose x-dge-run-id is one byte over an AMQP short string, among normal
// messages: it is parked alone as bad-header, naming the header, and the
// others are processed at their first attempt, none parked, the node's
// connection never lost. (The run ID used to become the correlation_id of
// the node's outputs: the publish failed half-written and the broker
// closed the connection, again and again.)
func TestLongRunIDParkedAlone(t *testing.T) {
	h := newHarness(t, chainGraph("longrun", double))
	long := strings.Repeat("r", 256)
	h.publishRaw("input", []byte(`{"value": 1000}`), amqp.Publishing{MessageId: "bad", Headers: amqp.Table{HeaderRunID: long}})
	values := make([]int, 20)
	for i := range values {
		values[i] = i
	}
	h.publishNums("start", values...)
	stop := h.background("double")
	// The bad message's run ID is left out of its parked copy: no failure
	// record follows it.
	if got := h.consumeNums("result", len(values)); len(got) != len(values) {
		t.Fatalf("%d results, want %d", len(got), len(values))
	}
	parked := h.waitMessages("input.dead", 1)
	d := parked[0]
	if d.MessageId != "bad" || d.Headers[HeaderReason] != string(envelope.BadHeader) {
		t.Fatalf("parked %s with reason %v, want bad with %s", d.MessageId, d.Headers[HeaderReason], envelope.BadHeader)
	}
	if e, _ := d.Headers[HeaderError].(string); !strings.Contains(e, "header x-dge-run-id: 256 bytes") {
		t.Errorf("x-dge-error %q, want it to name x-dge-run-id and its size", e)
	}
	if d.CorrelationId != "" || d.Headers[HeaderRunID] != "" {
		t.Errorf("parked copy carries run ID %q / %v, want none (the bad value is left out)", d.CorrelationId, d.Headers[HeaderRunID])
	}
	if code := stop(); code != 0 {
		t.Errorf("node exited %d", code)
	}
	if n := h.count("input.dead") + h.count("input.retry") + h.count("input"); n != 0 {
		t.Errorf("%d messages left in input, input.retry and input.dead, want 0", n)
	}
}

func TestCheckDelivery(t *testing.T) {
	ok := Delivery{Message: Message{RunID: "r", MessageID: "m", Source: "start.start", Headers: map[string]any{
		"x-death":  []any{amqp.Table{"queue": "q", "reason": "rejected", "count": int64(2)}},
		"x-custom": amqp.Table{"a": []any{int32(1), "b"}}, HeaderRedriven: int64(1),
	}}}
	if bad := checkDelivery(ok); bad != nil {
		t.Fatalf("checkDelivery(a good delivery) = %v", bad)
	}
	for _, tc := range []struct {
		name string
		edit func(d *Delivery)
		want string
	}{
		{"long run ID", func(d *Delivery) { d.RunID = strings.Repeat("r", 256) }, "header x-dge-run-id: 256 bytes"},
		{"run ID not UTF-8", func(d *Delivery) { d.RunID = "r\xff" }, "header x-dge-run-id: not valid UTF-8"},
		{"long message ID", func(d *Delivery) { d.MessageID = strings.Repeat("m", 300) }, "header message_id: 300 bytes"},
		{"run ID of the wrong type", func(d *Delivery) { d.Headers = map[string]any{HeaderRunID: int32(3)} }, "header x-dge-run-id: a int32, want a string"},
		{"attempt of the wrong type", func(d *Delivery) { d.Headers = map[string]any{HeaderAttempt: "x"} }, "header x-dge-attempt: a string, want an integer"},
		{"x-death a string", func(d *Delivery) { d.Headers = map[string]any{"x-death": "died"} }, "header x-death: a string, want an array of tables"},
		{"x-death of strings", func(d *Delivery) { d.Headers = map[string]any{"x-death": []any{"a"}} }, "header x-death: entry 0 is a string"},
		{"suspect not a bool", func(d *Delivery) { d.Headers = map[string]any{HeaderSuspect: "yes"} }, "header x-dge-suspect: a string, want a boolean"},
		{"first-seen not a time", func(d *Delivery) { d.Headers = map[string]any{HeaderFirstSeen: "now"} }, "is not an RFC 3339 time"},
		{"traceparent too long", func(d *Delivery) { d.TraceParent = strings.Repeat("0", maxTraceHeader+1) }, "header traceparent:"},
		{"too deep", func(d *Delivery) {
			var v any = "x"
			for range maxHeaderDepth + 2 {
				v = []any{v}
			}
			d.Headers = map[string]any{"x-deep": v}
		}, "header x-deep: nested deeper than"},
		{"a Go type AMQP cannot carry", func(d *Delivery) { d.Headers = map[string]any{"x-odd": struct{}{}} }, "AMQP cannot carry"},
		{"too large", func(d *Delivery) { d.Headers = map[string]any{"x-blob": strings.Repeat("b", maxHeaderBytes)} }, "header headers:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Delivery{Message: Message{RunID: "r", MessageID: "m"}}
			tc.edit(&d)
			bad := checkDelivery(d)
			if bad == nil || !strings.Contains(bad.Error(), tc.want) {
				t.Fatalf("checkDelivery = %v, want an error containing %q", bad, tc.want)
			}
			clean, dropped := cleanForPark(d)
			if len(dropped) == 0 {
				t.Errorf("cleanForPark left everything in")
			}
			if err := CheckPublishable(clean.Message, DefaultFrameSize); err != nil {
				t.Errorf("the parked copy cannot be published: %v", err)
			}
		})
	}
}

// TestUnpublishableOutputFailsOneMessage: a message AMQP cannot carry is
// refused by both transports before anything is written, the channel left
// open.
func TestUnpublishableOutputFailsOneMessage(t *testing.T) {
	for name, setup := range map[string]transportSetup{"memory": memorySetup, "rabbitmq": rabbitSetup} {
		t.Run(name, func(t *testing.T) {
			g := confGraph()
			c := dialClient(t, setup(t, g))
			ch := c.channel()
			m := confMsg(1)
			m.RunID = strings.Repeat("r", 256)
			_, err := ch.Publish(context.Background(), g.WorkExchange, "work", m)
			if !errors.Is(err, errUnpublishable) {
				t.Fatalf("publish with a 256-byte run ID: %v, want errUnpublishable", err)
			}
			c.publish(ch, g.WorkExchange, "work", confMsg(2)) // the channel still works
			select {
			case <-ch.Done():
				t.Fatal("the channel closed")
			default:
			}
		})
	}
}

// TestNoticeWithoutRunIDDiscarded: a failure notice published without a
// run ID (a forgery: the runtime's notices always carry one) is discarded,
// as docs/runtime.md says, never forwarded as a failure record under a run ID
// derived from its message ID.
func TestNoticeWithoutRunIDDiscarded(t *testing.T) {
	h := newHarness(t, chainGraph("forgednotice", double))
	h.publishRaw("input", nil, amqp.Publishing{MessageId: "forged", Headers: amqp.Table{
		HeaderFailedNode: "process.elsewhere", HeaderFailedReason: "permanent", HeaderFailedError: "forged",
	}})
	h.publishNums("start", 21)
	// One at a time, in order: the notice is handled before the result.
	stop := h.background("double", "-concurrency", "1", "-prefetch", "1")
	d := h.waitMessages("result", 1)[0]
	if _, ok := d.Headers[HeaderFailedNode]; ok {
		t.Fatalf("result queue got a failure record of run %q, want the notice discarded", d.CorrelationId)
	}
	h.waitSettled("input")
	if code := stop(); code != 0 {
		t.Errorf("node exited %d", code)
	}
	if n := h.count("result"); n != 0 {
		t.Errorf("result holds %d more messages, want 0", n)
	}
}

// TestConsumeDiscardsNoticeWithoutRunID: a failure notice without a run ID
// that reaches a terminate queue is no failure record (it names no run):
// consume acknowledges and drops it, as the nodes before would, and prints
// only the real result.
func TestConsumeDiscardsNoticeWithoutRunID(t *testing.T) {
	h := newHarness(t, chainGraph("forgedrecord", double))
	h.publishRaw("result", nil, amqp.Publishing{MessageId: "forged", Headers: amqp.Table{
		HeaderFailedNode: "process.elsewhere", HeaderFailedReason: "permanent", HeaderFailedError: "forged",
	}})
	h.publishRaw("result", []byte(`{"value": 42}`), amqp.Publishing{MessageId: "real", CorrelationId: "run-1", Headers: amqp.Table{HeaderRunID: "run-1"}})
	code, out, errs := h.exec("", "consume", "result", "-n", "1", "-envelope", "-timeout", "1m")
	if code != 0 {
		t.Fatalf("consume exited %d: %s", code, errs)
	}
	if strings.Contains(out, "failed") || !strings.Contains(out, `"run_id":"run-1"`) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("consume printed %q, want only run-1's result", out)
	}
	if !strings.Contains(errs, "failure notice without a run ID discarded") {
		t.Errorf("consume did not say it discarded the notice: %s", errs)
	}
	if n := h.count("result"); n != 0 {
		t.Errorf("result holds %d messages, want 0", n)
	}
}
