package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
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
	Reason    string    // why: "max-attempts", "permanent", "decode", "timeout", "incomplete-group", ...
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

// parkResult parks a result that does not decode as its terminate node's
// type, as the consume subcommand and Local do: a copy goes to Q.dead with
// reason decode, the delivery is acked once the copy is confirmed, and the
// graph's on_failure is called.
func parkResult(ctx context.Context, g *Graph, log *slog.Logger, ch Channel, n Node, d Delivery, decErr error) error {
	h := map[string]any{}
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = "decode"
	h[HeaderError] = fmt.Sprintf("decode %s: %v", n.in.Message, decErr)
	h[HeaderNode] = n.Addr()
	m := d.Message
	m.Headers = h
	m.Attempt = d.attempt(n.in.Queue)
	if d.span != nil {
		d.span.AddEvent("park", trace.WithAttributes(attrReason.String("decode"), attrError.String(h[HeaderError].(string)),
			attrDeadQueue.String(n.in.Queue+topology.SuffixDead)))
		d.span.SetStatus(codes.Error, "parked (decode): "+h[HeaderError].(string))
		carry(d.span, &m)
	}
	log.ErrorContext(spanContext(ctx, d.span), "parking result that does not decode", "node", n.Addr(), "message_id", d.MessageID, "run_id", d.RunID,
		"error", decErr.Error(), "dead_queue", n.in.Queue+topology.SuffixDead)
	conf, err := ch.Publish(ctx, g.WorkExchange, n.in.Queue+topology.SuffixDead, m)
	if err == nil {
		err = conf.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("consume: park undecodable result in %s.dead: %w", n.in.Queue, err)
	}
	if err := ch.Ack(d.Tag, false); err != nil {
		return fmt.Errorf("consume: ack parked result: %w", err)
	}
	if g.OnFailure != nil {
		var calls sync.WaitGroup
		g.callOnFailure(spanContext(ctx, d.span), log, &calls, Failure{Node: n.Addr(), Queue: n.in.Queue, RunID: d.RunID, MessageID: d.MessageID, Attempt: m.Attempt,
			Reason: "decode", Error: h[HeaderError].(string), Body: preview(d.Body), BodySize: len(d.Body), ParkedAt: time.Now().UTC()})
		calls.Wait()
	}
	return nil
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
