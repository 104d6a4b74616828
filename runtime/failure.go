package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	Reason    string    // why: an envelope.Reason ("max-attempts", "permanent", "decode", "timeout", ...)
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
// Q.dead, where the run failed: not for the parts an aggregate parks with
// reason member-failed because their run failed elsewhere (see notice.go).
// It cannot un-park the message, and a panic in it is logged. ctx has a
// minute's deadline and, when the runtime traces, the parking span, so the
// spans the handler starts belong to the failed run's trace.
type FailureHandler = func(ctx context.Context, f Failure)

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

func (e permanentError) Unwrap() error { return e.err }

// Permanent marks a handler error as not worth retrying: the runtime parks
// the message in Q.dead at once, with reason "permanent". Permanent(nil)
// returns nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// callOnFailure calls the graph's failure handler, if any, in a goroutine
// tracked by calls, with a minute to run and parent's values (not its
// deadline or cancellation); a panic in it is logged.
func (g *Graph) callOnFailure(parent context.Context, log *slog.Logger, calls *sync.WaitGroup, f Failure) {
	if g.OnFailure == nil {
		return
	}
	calls.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("on_failure handler panicked", "node", f.Node, "message_id", f.MessageID, "panic", fmt.Sprint(p))
			}
		}()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), time.Minute)
		defer cancel()
		g.OnFailure(ctx, f)
	})
}
