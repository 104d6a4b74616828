package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// ErrConsumerGone is wrapped by Consume's error when the broker closed
// its channel or cancelled its consumer (the queue was deleted, or the
// cluster node that held it went down).
var ErrConsumerGone = errors.New("consumer gone")

// consumerGone is an error wrapping ErrConsumerGone.
type consumerGone struct{ msg string }

func (e consumerGone) Error() string { return e.msg }

func (e consumerGone) Unwrap() error { return ErrConsumerGone }

// ConsumeOptions configures Consume.
type ConsumeOptions struct {
	// MaxPrefetch, when positive, caps how many results the broker sends
	// ahead of the acknowledgements (the terminate edge's prefetch, else a
	// default): one who wants N results sets it to N, leaving the others
	// to other consumers.
	MaxPrefetch int
	// Logger receives the lines about parked messages; nil means
	// slog.Default().
	Logger *slog.Logger
	// TracerProvider traces every result received (see the package
	// documentation, Tracing); nil turns tracing off.
	TracerProvider trace.TracerProvider
}

// Consume receives the messages in the queue of terminate node n on conn,
// after checking that the queue exists (see VerifyTopology), and calls
// handle with each one as a Result: a result (Body compact JSON of n's
// type) or the failure record of a run that failed upstream (Failed set).
// Once handle returns nil the message is acknowledged; when it returns
// more false, Consume then returns nil. A message that is not a result of
// n's type is not passed to handle: a copy is parked in the queue's .dead
// queue (reason decode, the graph's OnFailure called), and the message
// acknowledged once the copy is confirmed.
//
// Consume returns ctx's error once ctx ends; handle's error, leaving its
// message unacknowledged (the broker delivers it again once the channel
// closes, which Consume does before returning); or an error when the queue
// is missing (it wraps ErrNotFound), when the broker closes the channel or
// cancels the consumer (it wraps ErrConsumerGone), or when an acknowledgement or a park fails. Every
// message acknowledged before Consume returned was handled.
func Consume(ctx context.Context, conn Conn, g Graph, n Node, opts ConsumeOptions, handle func(Result) (more bool, err error)) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := VerifyTopology(ctx, conn, g, n); err != nil {
		return err
	}
	prefetch := n.in.Prefetch
	if prefetch <= 0 {
		prefetch = startWindow
	}
	if opts.MaxPrefetch > 0 && opts.MaxPrefetch < prefetch {
		prefetch = opts.MaxPrefetch
	}
	ch, err := conn.Channel(ctx, 16)
	if err != nil {
		return err
	}
	defer ch.Close()
	stream, err := ch.Consume(ctx, n.in.Queue, prefetch)
	if err != nil {
		return err
	}
	deliveries := deliveryChan(stream)
	t := newTracer(opts.TracerProvider)
	for {
		var d Delivery
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch.Done():
			return consumerGone{fmt.Sprintf("consume: channel to queue %q closed", n.in.Queue)}
		case dd, ok := <-deliveries:
			if !ok {
				return consumerGone{fmt.Sprintf("consume: consumer of queue %q cancelled by the broker", n.in.Queue)}
			}
			d = dd
		}
		if t != nil {
			d.span = t.startResult(ctx, n, &d)
		}
		more, err := consumeOne(ctx, &g, log, ch, n, d, handle)
		endSpan(d.span, err)
		if err != nil || !more {
			return err
		}
	}
}

// consumeOne passes message d of terminate node n to handle and acks it,
// or parks it when it does not decode (more is then true).
func consumeOne(ctx context.Context, g *Graph, log *slog.Logger, ch Channel, n Node, d Delivery, handle func(Result) (bool, error)) (more bool, err error) {
	r := Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID}
	what := "result"
	if f, ok := noticeOf(d.Message); ok {
		if d.RunID == "" {
			discardNotice(log, n, d, f)
			if err := ch.Ack(d.Tag, false); err != nil {
				return false, fmt.Errorf("consume: ack failure notice without a run ID from queue %q: %w", n.in.Queue, err)
			}
			return true, nil
		}
		r.Failed, what = &f, "failure record"
	} else {
		var buf bytes.Buffer
		_, decErr := n.decodeBody(d.Body, g.maxBody())
		if decErr == nil {
			decErr = json.Compact(&buf, d.Body)
		}
		if decErr != nil {
			// Not a result of this node's type: park it rather than
			// pass on garbage or drop it.
			return true, parkResult(ctx, g, log, ch, n, d, decErr)
		}
		r.Body = buf.Bytes()
	}
	more, err = handle(r)
	if err != nil {
		return false, err
	}
	if err := ch.Ack(d.Tag, false); err != nil {
		return false, fmt.Errorf("consume: ack %s from queue %q: %w", what, n.in.Queue, err)
	}
	return more, nil
}
