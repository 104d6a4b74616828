package runtime

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// publishWindow is how many of Publish's publishes may await their
// confirms at once.
const publishWindow = 512

// RunReceipt is what became of one input of Publish: the run it started
// and how far its publishing went.
type RunReceipt struct {
	RunID string
	// Messages is how many messages the run starts with: one per queue the
	// start node feeds.
	Messages int
	// Sent is how many of them were published; 0 when publishing stopped
	// before the run (its input was not published: publish it again).
	Sent int
	// Err is the first error of the run's publishes and confirms; nil when
	// every message was confirmed. It wraps ErrNacked or ErrReturned when
	// the broker refused a message (not queued); any other error is a
	// confirm lost with the connection or ctx (the run may or may not be
	// queued).
	Err error
}

// Confirmed reports whether every message of the run was published and
// confirmed by the broker.
func (r RunReceipt) Confirmed() bool { return r.Sent > 0 && r.Sent == r.Messages && r.Err == nil }

// PublishOptions configures Publish.
type PublishOptions struct {
	// TracerProvider starts a trace for every run (see the package
	// documentation, Tracing); nil turns tracing off.
	TracerProvider trace.TracerProvider
}

// Publish starts one run of start node start for each body, on conn: it
// checks that the queues start feeds exist (see VerifyTopology), publishes
// every run's messages on a channel of its own with confirms, and waits
// for every confirm. Each body must already be valid for start (see
// Graph.CheckInput).
//
// An error means nothing was published: the topology is missing (it wraps
// ErrNotFound) or the channel could not be opened. Otherwise Publish returns
// one receipt per body, in order, and a nil error: a publish that fails
// (the channel or connection is gone) stops publishing, so the runs after
// it have Sent 0, and a receipt's Err says what became of a run that was
// sent but not confirmed.
func Publish(ctx context.Context, conn Conn, g Graph, start Node, bodies [][]byte, opts PublishOptions) ([]RunReceipt, error) {
	if err := VerifyTopology(ctx, conn, g, start); err != nil {
		return nil, err
	}
	ch, err := conn.Channel(ctx, publishWindow)
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	return publishRuns(ctx, ch, &g, start, bodies, newTracer(opts.TracerProvider)), nil
}

// publishRuns publishes a new run of start node n for each body on ch, with
// at most publishWindow publishes awaiting their confirms, and waits for
// every confirm. It stops publishing at the first publish that fails (the
// channel is gone): the runs after it are not sent. t traces the runs (nil:
// not traced).
func publishRuns(ctx context.Context, ch Channel, g *Graph, n Node, bodies [][]byte, t *tracer) []RunReceipt {
	// pending is one publish awaiting its confirm; span, on a run's last
	// publish, is the run's span (nil: none), ended once it is confirmed.
	type pending struct {
		run  int
		conf Confirmation
		span trace.Span
	}
	runs := make([]RunReceipt, len(bodies))
	confs := make(chan pending, publishWindow)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for p := range confs {
			if err := p.conf.Wait(ctx); err != nil && runs[p.run].Err == nil {
				runs[p.run].Err = err
			}
			endSpan(p.span, runs[p.run].Err)
		}
	}()
publish:
	for i, body := range bodies {
		var outs []out
		runs[i].RunID, outs = g.newRun(n, body)
		runs[i].Messages = len(outs)
		var span trace.Span
		if t != nil {
			span = t.startPublish(ctx, n, runs[i].RunID, outs)
		}
		for j, o := range outs {
			conf, err := ch.Publish(ctx, o.exchange, o.key, o.msg)
			if err != nil {
				endSpan(span, err)
				confs <- pending{run: i, conf: failedConfirmation{err}}
				break publish
			}
			runs[i].Sent++
			p := pending{run: i, conf: conf}
			if j == len(outs)-1 {
				p.span = span
			}
			confs <- p
		}
	}
	close(confs)
	<-waited
	return runs
}

// failedConfirmation is the outcome of a publish that failed outright.
type failedConfirmation struct{ err error }

func (f failedConfirmation) Wait(context.Context) error { return f.err }

// CheckInput checks body, the input of a new run of start node start,
// against start's message type and the graph's MaxBody, and returns it
// compacted, as Publish and Local.Publish send it. Its error says what is
// wrong with body.
func (g Graph) CheckInput(start Node, body []byte) ([]byte, error) {
	return start.validateBody(body, g.maxBody())
}
