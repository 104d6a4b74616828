package dgetest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/dgetest"
)

func TestRetriedHandlerDeliversEveryResult(t *testing.T) {
	var mu sync.Mutex
	calls := map[int]int{}
	g := graph
	g.Nodes = append([]dge.Node(nil), graph.Nodes...)
	g.Nodes[1] = dge.Process[Number, Number]("half", dge.Edge{Queue: "input", Message: "Number", Retry: time.Hour, MaxAttempts: 3, Prefetch: 8, Concurrency: 2},
		func(_ context.Context, n Number) (Number, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[n.Value]++
			if calls[n.Value] < 3 {
				return Number{}, errors.New("not yet")
			}
			return Number{n.Value / 2}, nil
		}, "result")
	// The retry delay of an hour would stall the test without RetryDelay.
	h := dgetest.Start(t, g, dgetest.RetryDelay(time.Millisecond))
	for v := range 10 {
		h.Publish(t, "start", Number{Value: 2 * v})
	}
	h.Wait(t)
	got := dgetest.Results[Number](t, h, "result", 10)
	sum := 0
	for _, n := range got {
		sum += n.Value
	}
	if len(got) != 10 || sum != 45 {
		t.Errorf("results %v, want the values 0..9", got)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %v, want none", p)
	}
	for v, n := range calls {
		if n != 3 {
			t.Errorf("value %d: %d calls, want 3", v, n)
		}
	}
}

func TestParkedCarriesReasonAndRun(t *testing.T) {
	h := dgetest.Start(t, graph)
	run := h.Publish(t, "start", []byte(`{"value": 3}`))
	p := h.WaitParked(t, "half", 1)
	if len(p) != 1 || p[0].RunID != run || p[0].Reason != "permanent" || p[0].Error != "odd number" || p[0].Queue != "input" || p[0].Attempt != 1 {
		t.Errorf("parked %+v, want run %s parked by half as permanent, odd number, attempt 1", p, run)
	}
	h.Wait(t)
}

// fakeT records a fatal failure and stops the helper as t.Fatalf would.
type fakeT struct {
	testing.TB
	fatal string
}

type stop struct{}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(stop{})
}

// fatal runs fn with a fakeT and returns its Fatalf message.
func fatal(t *testing.T, fn func(ft *fakeT)) string {
	ft := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (stop{}) {
				panic(r)
			}
		}()
		fn(ft)
	}()
	return ft.fatal
}

func TestFailuresAreClear(t *testing.T) {
	h := dgetest.Start(t, graph, dgetest.Timeout(50*time.Millisecond))
	tests := []struct {
		name string
		fn   func(ft *fakeT)
		want string
	}{
		{"results time out", func(ft *fakeT) { dgetest.Results[Number](ft, h, "result", 1) }, "0 of 1 results from terminate.result"},
		{"not a terminate", func(ft *fakeT) { dgetest.Results[Number](ft, h, "half", 1) }, `"half" is not a terminate node`},
		{"unknown field", func(ft *fakeT) { h.Publish(ft, "start", []byte(`{"valeu": 1}`)) }, `unknown field "valeu"`},
		{"not a start", func(ft *fakeT) { h.Publish(ft, "result", Number{}) }, `"result" is not a start node`},
		{"parked time out", func(ft *fakeT) { h.WaitParked(ft, "half", 1) }, "0 of 1 messages parked by process.half"},
		{"unknown node", func(ft *fakeT) { h.Parked(ft, "nope") }, `no node "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fatal(t, tt.fn); !strings.Contains(got, tt.want) {
				t.Errorf("Fatalf(%q), want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestInvalidGraphFailsStart(t *testing.T) {
	got := fatal(t, func(ft *fakeT) { dgetest.Start(ft, dge.Graph{Name: "empty"}) })
	if !strings.Contains(got, "WorkExchange and RetryExchange must be set") {
		t.Errorf("Fatalf(%q), want the graph's problem", got)
	}
}

// TestResultsDecodeStrictly asks for the results of the example graph (a
// Number, {"value": N}) as other types: each fails the test, naming the
// problem, instead of returning zero values.
func TestResultsDecodeStrictly(t *testing.T) {
	h := dgetest.Start(t, graph)
	h.Publish(t, "start", Number{Value: 4})
	h.Wait(t)

	type total struct {
		Total int `json:"total"`
	}
	type numberAndName struct {
		Value int    `json:"value"`
		Name  string `json:"name"`
	}
	type untagged struct{ Value, Count int }
	tests := []struct {
		name string
		fn   func(ft *fakeT)
		want string
	}{
		{"unknown field", func(ft *fakeT) { dgetest.Results[total](ft, h, "result", 1) }, `unknown field "value"`},
		{"missing field", func(ft *fakeT) { dgetest.Results[numberAndName](ft, h, "result", 1) }, `field "name" is missing`},
		{"missing untagged field", func(ft *fakeT) { dgetest.Results[untagged](ft, h, "result", 1) }, `field "Count" is missing`},
		{"wrong kind", func(ft *fakeT) { dgetest.Results[[]int](ft, h, "result", 1) }, "cannot unmarshal object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fatal(t, tt.fn)
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "does not decode as") {
				t.Errorf("Fatalf(%q), want it to say the result does not decode, with %q", got, tt.want)
			}
		})
	}

	// The right type, and types whose extra fields may be absent, decode.
	if got := dgetest.Results[Number](t, h, "result", 1); len(got) != 1 || got[0].Value != 2 {
		t.Errorf("Results[Number] = %v, want [{2}]", got)
	}
	type optional struct {
		Value int    `json:"value"`
		Note  string `json:"note,omitempty"`
		Skip  string `json:"-"`
		Embedded
	}
	if got := dgetest.Results[optional](t, h, "result", 1); len(got) != 1 || got[0].Value != 2 {
		t.Errorf("Results[optional] = %v, want one result of value 2", got)
	}
	if got := dgetest.Results[*Number](t, h, "result", 1); len(got) != 1 || got[0].Value != 2 {
		t.Errorf("Results[*Number] = %v, want one result of value 2", got)
	}
}

// Embedded has only an optional field, so a struct embedding it needs no
// more fields in the JSON.
type Embedded struct {
	Extra *int `json:"extra,omitempty"`
}

// TestWaitWithSplitAndGather checks that Wait returns once every split is
// gathered, although a gather's state queue always holds its active
// instance's token: the numbers 1..n of each run, each doubled on its own,
// summed by a fold.
func TestWaitWithSplitAndGather(t *testing.T) {
	edge := func(q string) dge.Edge {
		return dge.Edge{Queue: q, Message: "Number", Retry: time.Second, MaxAttempts: 3, Concurrency: 2}
	}
	g := dge.Graph{
		Name: "splits", Vhost: "/", WorkExchange: "splits.work", RetryExchange: "splits.retry",
		Nodes: []dge.Node{
			dge.Start[Number]("start", "numbers"),
			dge.Split[Number, Number]("numbers", edge("numbers"), func(_ context.Context, n Number) ([]Number, error) {
				items := make([]Number, n.Value)
				for i := range items {
					items[i] = Number{i + 1}
				}
				return items, nil
			}, "double"),
			dge.Process[Number, Number]("double", edge("double"), func(_ context.Context, n Number) (Number, error) {
				return Number{2 * n.Value}, nil
			}, "sum"),
			dge.Fold[Number, Number]("sum", edge("sum"), "numbers", time.Minute, nil, func(_ context.Context, acc, n Number) (Number, error) {
				return Number{acc.Value + n.Value}, nil
			}, "result"),
			dge.Terminate[Number]("result", edge("result")),
		},
	}
	h := dgetest.Start(t, g)
	want := map[int]bool{}
	for _, n := range []int{0, 1, 10, 100} {
		h.Publish(t, "start", Number{Value: n})
		want[n*(n+1)] = true
	}
	h.Wait(t)
	for _, r := range dgetest.Results[Number](t, h, "result", len(want)) {
		if !want[r.Value] {
			t.Errorf("result %d, want one of %v", r.Value, want)
		}
		delete(want, r.Value)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %v, want none", p)
	}
}
