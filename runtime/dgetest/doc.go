// Package dgetest runs a whole dge graph inside a Go test, on the runtime's
// in-memory broker (package github.com/dgehq/dge/runtime/memory): no
// RabbitMQ, the same retry, parking, join and poll semantics.
//
// Beside the main.go that dge generate writes (which declares the graph as
// the package variable graph), a test in package main can run the graph,
// feed it inputs and check its results and parked messages:
//
//	func TestGraph(t *testing.T) {
//		h := dgetest.Start(t, graph, dgetest.RetryDelay(10*time.Millisecond))
//		h.Publish(t, "start", behaviour.Integer{Value: 3})
//		got := dgetest.Results[behaviour.Integer](t, h, "result", 1)
//		if got[0].Value != 54 {
//			t.Errorf("got %d, want 54", got[0].Value)
//		}
//	}
//
// Every wait is bounded (one minute unless Timeout says otherwise) and fails
// the test when it passes. The graph stops in t.Cleanup.
//
// Delays are real: a handler error waits the edge's retry delay before the
// next attempt, a poll node's check the node's interval. RetryDelay and
// PollInterval shorten them for tests. A run whose message is parked ends
// at once everywhere downstream: a failure notice follows the node's
// output edges, an aggregate parks the run's other parts as member-failed,
// and the terminate node receives a failure record, which Failures reads.
// An aggregate's group incomplete for any other reason (a branch that
// never sends its part) is parked only after the node's timeout, so Wait
// waits for it; AggregateTimeout and PollTimeout shorten those timeouts.
package dgetest
