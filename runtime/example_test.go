package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/memory"
)

// The examples run their graphs on the in-memory broker (package memory),
// so they need no RabbitMQ: the same nodes, queues and retries, in one
// process.

// edge returns an edge on queue q of messages of type message.
func edge(q, message string) dge.Edge {
	return dge.Edge{Queue: q, Message: message, Retry: time.Millisecond, MaxAttempts: 3}
}

// graph returns a graph named name with its exchanges named as dge
// generate names them.
func graph(name string, nodes ...dge.Node) dge.Graph {
	return dge.Graph{
		Name: name, WorkExchange: name + ".work", RetryExchange: name + ".retry", PollExchange: name + ".poll",
		Nodes: nodes,
	}
}

// A graph of three nodes: start publishes an int to queue input, where
// process.double doubles it into queue result, which terminate.result
// reads. StartLocal runs every node on an in-memory broker.
func Example() {
	double := func(ctx context.Context, n int) (int, error) { return 2 * n, nil }
	g := graph("arith",
		dge.Start[int]("start", "input"),
		dge.Process("double", edge("input", "int"), double, "result"),
		dge.Terminate[int]("result", edge("result", "int")),
	)
	l, err := dge.StartLocal(g, memory.New(g, memory.Options{}), dge.LocalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Publish(ctx, "start", []byte("21")); err != nil {
		fmt.Println(err)
		return
	}
	results, err := l.WaitResults(ctx, "result", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", results[0].Node, results[0].Body)
	// Output: terminate.result: 42
}

// An aggregate joins one message from each of its upstream nodes for the
// same run: a fan_out copies the run's message to two process nodes, and
// the aggregate sums their outputs, in the order of its from list.
func ExampleAggregate() {
	add := func(k int) func(context.Context, int) (int, error) {
		return func(ctx context.Context, n int) (int, error) { return n + k, nil }
	}
	sum := func(ctx context.Context, parts []int) (string, error) {
		return fmt.Sprintf("%d+%d=%d", parts[0], parts[1], parts[0]+parts[1]), nil
	}
	g := graph("sums",
		dge.Start[int]("start", "input"),
		dge.FanOut[int]("copy", edge("input", "int"), "a", "b"),
		dge.Process("one", edge("a", "int"), add(1), "parts"),
		dge.Process("ten", edge("b", "int"), add(10), "parts"),
		dge.Aggregate("sum", edge("parts", "int"), []string{"process.one", "process.ten"}, time.Minute, sum, "result"),
		dge.Terminate[string]("result", edge("result", "string")),
	)
	l, err := dge.StartLocal(g, memory.New(g, memory.Options{}), dge.LocalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Publish(ctx, "start", []byte("5")); err != nil {
		fmt.Println(err)
		return
	}
	results, err := l.WaitResults(ctx, "result", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", results[0].Body)
	// Output: "6+15=21"
}

// A poll node checks an external system once per delivery until its
// handler says the job is done: here, on the third check. The in-memory
// broker's PollInterval shortens the node's interval.
func ExamplePoll() {
	checks := 0
	ready := func(ctx context.Context, job string) (string, bool, error) {
		checks++ // one delivery at a time: the edge's concurrency is 1
		if checks < 3 {
			return "", false, nil
		}
		return job + " is ready", true, nil
	}
	g := graph("jobs",
		dge.Start[string]("start", "jobs"),
		dge.Poll("ready", edge("jobs", "string"), time.Minute, time.Hour, ready, "result"),
		dge.Terminate[string]("result", edge("result", "string")),
	)
	l, err := dge.StartLocal(g, memory.New(g, memory.Options{PollInterval: time.Millisecond}), dge.LocalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Publish(ctx, "start", []byte(`"report"`)); err != nil {
		fmt.Println(err)
		return
	}
	results, err := l.WaitResults(ctx, "result", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s after %d checks\n", results[0].Body, checks)
	// Output: "report is ready" after 3 checks
}

// A handler error marked with Permanent is not retried: the runtime parks
// the message in its edge's dead queue at once, with reason permanent, and
// the run's terminate node receives its failure record instead of a
// result.
func ExamplePermanent() {
	charge := func(ctx context.Context, cents int) (int, error) {
		if cents < 0 {
			return 0, dge.Permanent(errors.New("negative amount"))
		}
		return cents, nil
	}
	g := graph("pay",
		dge.Start[int]("start", "charges"),
		dge.Process("charge", edge("charges", "int"), charge, "result"),
		dge.Terminate[int]("result", edge("result", "int")),
	)
	l, err := dge.StartLocal(g, memory.New(g, memory.Options{}), dge.LocalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Publish(ctx, "start", []byte("-5")); err != nil {
		fmt.Println(err)
		return
	}
	parked, err := l.WaitParked(ctx, "process.charge", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := parked[0]
	fmt.Printf("parked in %s.dead after %d attempt: %s: %s\n", p.Queue, p.Attempt, p.Reason, p.Error)
	failures, err := l.WaitFailures(ctx, "result", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("the run failed at %s\n", failures[0].Failed.Node)
	// Output:
	// parked in charges.dead after 1 attempt: permanent: negative amount
	// the run failed at process.charge
}

// A graph's OnFailure is called once for every message the runtime parks,
// after the parked copy is safely in the dead queue: here a message whose
// handler fails on each of its edge's MaxAttempts (3) attempts.
func ExampleGraph_onFailure() {
	flaky := func(ctx context.Context, n int) (int, error) {
		return 0, errors.New("service unavailable")
	}
	g := graph("flaky",
		dge.Start[int]("start", "input"),
		dge.Process("call", edge("input", "int"), flaky, "result"),
		dge.Terminate[int]("result", edge("result", "int")),
	)
	failed := make(chan dge.Failure, 1)
	g.OnFailure = func(ctx context.Context, f dge.Failure) { failed <- f }
	l, err := dge.StartLocal(g, memory.New(g, memory.Options{}), dge.LocalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	if _, err := l.Publish(context.Background(), "start", []byte("1")); err != nil {
		fmt.Println(err)
		return
	}
	f := <-failed
	fmt.Printf("%s gave up after %d attempts: %s: %s\n", f.Node, f.Attempt, f.Reason, f.Error)
	// Output: process.call gave up after 3 attempts: max-attempts: service unavailable
}

// Decode reads a message body strictly, as every node does: a body that
// does not decode as the edge's type is parked with reason decode.
func ExampleDecode() {
	type order struct {
		ID    string `json:"id"`
		Items int    `json:"items"`
	}
	o, err := dge.Decode[order]([]byte(`{"id": "A1", "items": 2}`))
	fmt.Println(o, err)
	_, err = dge.Decode[order]([]byte(`{"id": "A1", "itms": 2}`))
	fmt.Println(err)
	_, err = dge.Decode[order]([]byte(`null`))
	fmt.Println(err)
	// Output:
	// {A1 2} <nil>
	// json: unknown field "itms"
	// null is not a order
}
