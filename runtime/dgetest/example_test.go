package dgetest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/dgetest"
)

// Number is the message type of the example graph.
type Number struct {
	Value int `json:"value"`
}

// Half halves even numbers and refuses odd ones for good.
func Half(_ context.Context, n Number) (Number, error) {
	if n.Value%2 != 0 {
		return Number{}, dge.Permanent(errors.New("odd number"))
	}
	return Number{n.Value / 2}, nil
}

// graph is what dge generate writes into main.go for a graph
// start → process "half" → terminate "result".
var graph = dge.Graph{
	Name:          "halves",
	Vhost:         "/",
	WorkExchange:  "halves.work",
	RetryExchange: "halves.retry",
	Nodes: []dge.Node{
		dge.Start[Number]("start", "input"),
		dge.Process[Number, Number]("half", dge.Edge{Queue: "input", Message: "Number", Retry: time.Second, MaxAttempts: 3, Prefetch: 8, Concurrency: 1}, Half, "result"),
		dge.Terminate[Number]("result", dge.Edge{Queue: "result", Message: "Number", Retry: time.Second, MaxAttempts: 3, Prefetch: 8, Concurrency: 1}),
	},
}

func Example() {
	// In a test, t is the *testing.T: func TestGraph(t *testing.T) { ... }.
	t := &exampleT{}
	defer t.cleanup()

	h := dgetest.Start(t, graph)
	h.Publish(t, "start", Number{Value: 42})
	h.Publish(t, "start", Number{Value: 7})
	results := dgetest.Results[Number](t, h, "result", 1)
	parked := h.WaitParked(t, "half", 1)
	h.Wait(t)

	fmt.Println("result:", results[0].Value)
	fmt.Printf("parked: %s %s (%s): %s\n", parked[0].Node, parked[0].Body, parked[0].Reason, parked[0].Error)
	// Output:
	// result: 21
	// parked: process.half {"value":7} (permanent): odd number
}

// exampleT stands in for *testing.T in the example.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
