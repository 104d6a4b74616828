package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestEntryPoints drives a graph through the library's entry points alone,
// as a program embedding the runtime would: Publish's receipts name the
// runs RunNodes then handles, and Consume hands over their results and
// parks a message in the terminate queue that is not a result.
func TestEntryPoints(t *testing.T) {
	h := newHarness(t, chainGraph("entry", double))
	tr := AMQP{URL: h.vh.AMQPURL}
	conn, err := tr.Dial(t.Context(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	start, _ := h.g.Node("start")
	var bodies [][]byte
	for _, s := range []string{`{"value": 1}`, `{"value":2}`} {
		b, err := h.g.CheckInput(start, []byte(s))
		if err != nil {
			t.Fatalf("CheckInput(%s): %v", s, err)
		}
		bodies = append(bodies, b)
	}
	if _, err := h.g.CheckInput(start, []byte(`{"value": "x"}`)); err == nil {
		t.Error("CheckInput accepted a string for an int")
	}
	receipts, err := Publish(t.Context(), conn, h.g, start, bodies, PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, r := range receipts {
		if !r.Confirmed() || r.Messages != 1 {
			t.Errorf("receipt %+v: want one confirmed message", r)
		}
		runs = append(runs, r.RunID)
	}

	ctx, stop := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	double, _ := h.g.Node("double")
	go func() {
		ran <- RunNodes(ctx, h.g, []Node{double}, RunOptions{Transport: tr, ConnectionName: t.Name() + " nodes"})
	}()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("RunNodes after its context ended: %v", err)
		}
	}()

	h.publishRaw("result", []byte(`{"value": "not a number"}`), amqp.Publishing{MessageId: "bad", Headers: amqp.Table{HeaderRunID: "run-bad"}})
	result, _ := h.g.Node("result")
	var got []Result
	err = Consume(t.Context(), conn, h.g, result, ConsumeOptions{}, func(r Result) (bool, error) {
		got = append(got, r)
		return len(got) < 2, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var gotRuns, values []string
	for _, r := range got {
		gotRuns = append(gotRuns, r.RunID)
		values = append(values, string(r.Body))
		if r.Node != "terminate.result" || r.Failed != nil {
			t.Errorf("result %+v: want a result of terminate.result", r)
		}
	}
	slices.Sort(runs)
	slices.Sort(gotRuns)
	slices.Sort(values)
	if !slices.Equal(gotRuns, runs) || !slices.Equal(values, []string{`{"value":2}`, `{"value":4}`}) {
		t.Errorf("results %q of runs %q; want {\"value\":2} and {\"value\":4} of the published runs %q", values, gotRuns, runs)
	}
	parked := h.waitMessages("result.dead", 1)
	var v map[string]any
	if json.Unmarshal(parked[0].Body, &v) != nil || parked[0].Headers[HeaderReason] != "decode" {
		t.Errorf("parked %s with headers %v: want the bad result, reason decode", parked[0].Body, parked[0].Headers)
	}
}

// TestEntryPointsFindMissingTopology checks that Publish, Consume and
// VerifyTopology refuse a vhost without the graph's queues, saying so.
func TestEntryPointsFindMissingTopology(t *testing.T) {
	h := newBareHarness(t, chainGraph("entrybare", double))
	conn, err := AMQP{URL: h.vh.AMQPURL}.Dial(t.Context(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start, _ := h.g.Node("start")
	result, _ := h.g.Node("result")
	if err := VerifyTopology(t.Context(), conn, h.g, start, result); !errors.Is(err, ErrNotFound) {
		t.Errorf("VerifyTopology: %v; want ErrNotFound", err)
	}
	if rs, err := Publish(t.Context(), conn, h.g, start, [][]byte{[]byte(`{"value":1}`)}, PublishOptions{}); !errors.Is(err, ErrNotFound) || rs != nil {
		t.Errorf("Publish: %v, %v; want ErrNotFound and no receipt", rs, err)
	}
	called := false
	err = Consume(t.Context(), conn, h.g, result, ConsumeOptions{}, func(Result) (bool, error) { called = true; return false, nil })
	if !errors.Is(err, ErrNotFound) || called {
		t.Errorf("Consume: %v (handler called: %v); want ErrNotFound", err, called)
	}
}
