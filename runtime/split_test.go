package runtime

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/envelope"
)

func TestOutputHeadersCarryRedriveAndSplit(t *testing.T) {
	const frames = "numbers:abc:1:3"
	for _, tt := range []struct {
		in, want map[string]any
	}{
		{nil, nil},
		{map[string]any{"x-other": "v"}, nil},
		{map[string]any{HeaderRedriven: 2}, map[string]any{HeaderRedriven: 2}},
		{map[string]any{HeaderSplit: frames, "x-other": "v"}, map[string]any{HeaderSplit: frames}},
		{map[string]any{HeaderSplit: frames, HeaderRedriven: 1}, map[string]any{HeaderSplit: frames, HeaderRedriven: 1}},
	} {
		got := outputHeaders(tt.in)
		if len(got) != len(tt.want) || (tt.want == nil) != (got == nil) {
			t.Errorf("outputHeaders(%v) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("outputHeaders(%v) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
	plain := map[string]any{"x-other": "v"}
	if n := testing.AllocsPerRun(100, func() { _ = outputHeaders(plain) }); n != 0 {
		t.Errorf("outputHeaders allocates %v times for a message outside any split, not redriven; want 0", n)
	}
}

func TestEmptySplit(t *testing.T) {
	for v, want := range map[string]bool{
		"numbers:abc:0:0":               true,
		"outer:abc:1:3;numbers:def:0:0": true,
		"numbers:abc:0:3":               false,
		"numbers:abc:2:10":              false,
		"outer:abc:0:0;numbers:def:0:2": false,
	} {
		if got := emptySplit(map[string]any{HeaderSplit: v}); got != want {
			t.Errorf("emptySplit(%q) = %v, want %v", v, got, want)
		}
	}
	if emptySplit(nil) {
		t.Error("a message outside any split is an empty split's marker")
	}
}

func TestCheckSplitAndStateHeaders(t *testing.T) {
	for _, tt := range []struct {
		k       string
		v       any
		problem string // "" when accepted
	}{
		{HeaderSplit, "numbers:abc:1:3", ""},
		{HeaderSplit, "outer:abc:1:3;numbers:def:0:0", ""},
		{HeaderSplit, "numbers:abc:3:3", "index 3 out of a count of 3"},
		{HeaderSplit, "numbers", "want split:id:index:count"},
		{HeaderSplit, "", "empty"},
		{HeaderSplit, 7, "want split:id:index:count"},
		{"x-dge-state", "checkpoint", ""},
		{"x-dge-state", "hello", ""},
		{"x-dge-state", "sync", ""},
		{"x-dge-state", "later", `"later", want "checkpoint"`},
		{"x-dge-state", true, "a bool, want"},
	} {
		bad := checkHeader(tt.k, tt.v)
		switch {
		case tt.problem == "" && bad != nil:
			t.Errorf("%s = %v refused: %v", tt.k, tt.v, bad)
		case tt.problem != "" && (bad == nil || !strings.Contains(bad.Error(), tt.problem)):
			t.Errorf("%s = %v: %v, want a problem mentioning %q", tt.k, tt.v, bad, tt.problem)
		}
	}
}

func TestGraphCheckSplitAndGather(t *testing.T) {
	split := Split[num, num]("numbers", testEdge("numbers"), func(context.Context, num) ([]num, error) { return nil, nil }, "items")
	sum := func(_ context.Context, ns []num) (num, error) { return num{len(ns)}, nil }
	add := func(_ context.Context, acc, n num) (num, error) { return num{acc.Value + n.Value}, nil }
	graph := func(nodes ...Node) Graph {
		return testGraph("check", append([]Node{Start[num]("start", "numbers")}, nodes...)...)
	}
	noFold := Fold[num, num]("sum", testEdge("items"), "numbers", time.Hour, nil, add, "result")
	noFold.decodeAcc = nil
	for _, tt := range []struct {
		name    string
		g       Graph
		problem string
	}{
		{"list gather", graph(split, Gather[num, num]("sum", testEdge("items"), "numbers", time.Hour, sum, "result")), ""},
		{"fold without zero", graph(split, Fold[num, num]("sum", testEdge("items"), "numbers", time.Hour, nil, add, "result")), ""},
		{"no over", graph(split, Gather[num, num]("sum", testEdge("items"), "", time.Hour, sum, "result")), "names no split"},
		{"unknown split", graph(split, Gather[num, num]("sum", testEdge("items"), "pages", time.Hour, sum, "result")), `"pages", which is not a node`},
		{"over a process", graph(Process[num, num]("numbers", testEdge("numbers"), double, "items"),
			Gather[num, num]("sum", testEdge("items"), "numbers", time.Hour, sum, "result")), "over must name a split node"},
		{"fold without its decoder", graph(split, noFold), "not built by Gather or Fold"},
		{"bare split", graph(Node{name: "numbers", kind: KindSplit, in: testEdge("numbers")}), "not built by Split"},
	} {
		err := tt.g.Check()
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.problem)
		}
	}
}

func TestSplitIDStable(t *testing.T) {
	d := Delivery{Message: Message{Body: []byte(`{"value":1}`), MessageID: "m1", RunID: "r1"}}
	id := splitID(d, "split.numbers")
	if id != splitID(d, "split.numbers") {
		t.Error("the same input gives two split IDs")
	}
	other := d
	other.RunID = "r2"
	for _, o := range []string{splitID(other, "split.numbers"), splitID(d, "split.pages")} {
		if o == id {
			t.Error("another run or another split node gives the same split ID")
		}
	}
	if strings.ContainsAny(id, ":;") {
		t.Errorf("split ID %q holds a frame separator", id)
	}
}

// TestUnroutableItemParksTheSplit: items the broker returns (no queue
// bound to their key) are no success, and retrying cannot help: the
// split's input is parked as unroutable at once, both when a split waits
// for its oldest item's confirmation itself (over its share of the publish
// window) and when the acker waits for the last ones.
func TestUnroutableItemParksTheSplit(t *testing.T) {
	var calls atomic.Int64
	edge := testEdge("input")
	edge.Prefetch, edge.Concurrency = 1, 1 // a window of 19: a split holds at most 19 unconfirmed items
	g := testGraph("unroutable-split",
		Start[num]("start", "input"),
		Split[num, num]("numbers", edge, upTo(&calls), "nowhere"),
		Terminate[num]("result", testEdge("result")),
	)
	h := newHarness(t, g)
	ch, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("nowhere", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	h.background("numbers")
	h.publishNums("start", 5, 100)
	parked := map[int]bool{}
	for _, d := range h.waitMessages("input.dead", 2) {
		if d.Headers[HeaderReason] != string(envelope.Unroutable) {
			t.Errorf("reason %v, want unroutable", d.Headers[HeaderReason])
		}
		parked[bodyValue(t, Delivery{Message: Message{Body: d.Body}})] = true
	}
	if !parked[5] || !parked[100] {
		t.Errorf("parked %v, want the splits of 5 and of 100", parked)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("split handler called %d times, want 2 (one attempt of each input)", n)
	}
}
