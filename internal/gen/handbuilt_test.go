package gen

import (
	"time"

	"github.com/dgehq/dge/config"
	"github.com/hashicorp/hcl/v2"
)

// arithGraph builds the reference graph (examples/arith) by hand, as the loader
// would return it, so the view model is tested without the loader.
func arithGraph() *config.Graph {
	edge := func(q, msg string, retry time.Duration) *config.Edge {
		return &config.Edge{Queue: q, Message: msg, Retry: retry, MaxAttempts: 5, Prefetch: 0, Concurrency: 1,
			MessageRange: hcl.Range{Filename: "graph.dge.hcl", Start: hcl.Pos{Line: 1, Column: 1}}}
	}
	start := &config.Node{Kind: config.KindStart, Name: "start"}
	dup := &config.Node{Kind: config.KindFanOut, Name: "duplicate_input", Edge: edge("input", "Integer", 10*time.Second)}
	double := &config.Node{Kind: config.KindProcess, Name: "double", Handler: "Double", Edge: edge("input_copy_1", "Integer", 5*time.Second)}
	square := &config.Node{Kind: config.KindProcess, Name: "square", Handler: "Square", Edge: edge("input_copy_2", "Integer", 5*time.Second)}
	multiply := &config.Node{Kind: config.KindAggregate, Name: "multiply", Handler: "Multiply", Timeout: 10 * time.Minute, Edge: edge("multiply", "Integer", 1500*time.Millisecond)}
	rest := &config.Node{Kind: config.KindPoll, Name: "rest_call", Handler: "RestCall", Interval: time.Second, Timeout: 10 * time.Minute, Edge: edge("rest_call", "Float", 5*time.Second)}
	result := &config.Node{Kind: config.KindTerminate, Name: "result", Edge: edge("result", "Integer", 5*time.Second)}
	link := func(from *config.Node, to ...*config.Node) {
		for _, t := range to {
			from.To = append(from.To, t)
			t.From = append(t.From, from)
		}
	}
	link(start, dup)
	link(dup, double, square)
	link(double, multiply)
	link(square, multiply)
	link(multiply, rest)
	link(rest, result)
	return &config.Graph{
		Name:      "arith",
		Handlers:  "github.com/dgehq/dge/examples/arith/behaviour",
		OnFailure: "AcceptFailure",
		Broker: config.Broker{Vhost: "/", QueueType: config.QueueQuorum,
			WorkExchange: "arith.work", RetryExchange: "arith.retry", PollExchange: "arith.poll"},
		Nodes: []*config.Node{start, dup, double, square, multiply, rest, result},
		Files: []string{"examples/arith/graph.dge.hcl"},
	}
}
