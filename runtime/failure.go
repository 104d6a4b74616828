package runtime

import (
	"context"
	"time"
)

// Failure describes a message the runtime parked in its edge's dead queue
// (Q.dead). It is passed to the graph's on_failure handler after the parked
// copy is confirmed by the broker.
type Failure struct {
	Node      string    // address of the node that gave up, e.g. "process.double"
	Queue     string    // the edge queue the message came from
	RunID     string    // the run the message belongs to
	MessageID string    // the message's stable ID
	Attempt   int       // attempts made, counting the last one
	Reason    string    // why: "max-attempts", "permanent", "decode", "timeout", ...
	Error     string    // the last error's text, if any
	Body      []byte    // the body's first 1 KiB (the whole message stays in Q.dead)
	BodySize  int       // the whole body's size in bytes
	ParkedAt  time.Time // when the runtime parked it
}

// FailureHandler is the signature of a graph's on_failure function:
//
//	func AcceptFailure(ctx context.Context, f runtime.Failure)
//
// It is called once per parked message, after the message is safely in
// Q.dead; it cannot un-park the message, and a panic in it is logged.
type FailureHandler = func(ctx context.Context, f Failure)
