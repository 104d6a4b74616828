package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// cmdPublish publishes each input as a new run to every queue the start
// node feeds. Every input is validated before anything is published.
func (c *cli) cmdPublish(ctx context.Context, args []string) error {
	fs := c.flagSet("publish", "publish <start> [JSON...]", fmt.Sprintf(`
Publishes each JSON argument, or each line of stdin when there is none, as
the input of a new run of the start node <start> (%s), and prints one run
ID per line once the broker confirmed the run. Every input is checked
against the node's message type before anything is published.`, c.nodeNames(KindStart)), true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"publish: name a start node: publish <start> [JSON...]"}
	}
	n, ok := c.g.node(fs.Arg(0))
	if !ok || n.kind != KindStart {
		return usageError{fmt.Sprintf("publish: %q is not a start node of graph %q", fs.Arg(0), c.g.Name)}
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	eps, err := c.endpoints(log)
	if err != nil {
		return err
	}
	var bodies [][]byte
	if inputs := fs.Args()[1:]; len(inputs) > 0 {
		for i, s := range inputs {
			b, err := n.validateBody([]byte(s), c.g.maxBody())
			if err != nil {
				return fmt.Errorf("publish: argument %d is not a valid %s message: %v (nothing was published)", i+1, n.Addr(), err)
			}
			bodies = append(bodies, b)
		}
	} else if bodies, err = c.readStdinMessages("publish", n, "nothing was published"); err != nil {
		return err
	}
	if len(bodies) == 0 {
		return usageError{"publish: no input: give JSON arguments or lines on stdin"}
	}

	conn, err := transport(eps, log, nil).Dial(ctx, c.connName("publish"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", endpointName(conn))
	e := &engine{g: &c.g, vhost: eps.Vhost()}
	if err := e.verify(ctx, conn, []*nodeRun{{n: n}}); err != nil {
		return err
	}
	const window = 512
	ch, err := conn.Channel(ctx, window)
	if err != nil {
		return err
	}
	defer ch.Close()
	runs := c.publishRuns(ctx, ch, n, bodies, window)
	for _, r := range runs {
		if r.sent > 0 && r.err == nil {
			fmt.Fprintln(c.stdout, r.id)
		}
	}
	return c.reportRuns(runs)
}

// publishedRun is what became of one input of publish: its run ID, how many
// of its messages (one per queue the start node feeds) were sent, and the
// first error of its publishes and confirms (nil: every one confirmed).
type publishedRun struct {
	id   string
	sent int
	outs int
	err  error
}

// publishRuns publishes a new run of start node n for each body on ch, with
// at most window publishes awaiting their confirms, and waits for every
// confirm. It stops publishing at the first publish that fails (the
// channel is gone): the runs after it are not sent.
func (c *cli) publishRuns(ctx context.Context, ch Channel, n Node, bodies [][]byte, window int) []publishedRun {
	// pending is one publish awaiting its confirm; span, on a run's last
	// publish, is the run's span (nil: none), ended once it is confirmed.
	type pending struct {
		run  int
		conf Confirmation
		span trace.Span
	}
	runs := make([]publishedRun, len(bodies))
	confs := make(chan pending, window)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for p := range confs {
			if err := p.conf.Wait(ctx); err != nil && runs[p.run].err == nil {
				runs[p.run].err = err
			}
			endSpan(p.span, runs[p.run].err)
		}
	}()
	t := newTracer(c.tp)
publish:
	for i, body := range bodies {
		var outs []out
		runs[i].id, outs = c.g.newRun(n, body)
		runs[i].outs = len(outs)
		var span trace.Span
		if t != nil {
			span = t.startPublish(ctx, n, runs[i].id, outs)
		}
		for j, o := range outs {
			conf, err := ch.Publish(ctx, o.exchange, o.key, o.msg)
			if err != nil {
				endSpan(span, err)
				confs <- pending{run: i, conf: failedConfirmation{err}}
				break publish
			}
			runs[i].sent++
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

// reportRuns writes to stderr one line for every run that was sent but not
// confirmed, saying why, and returns an error that counts the runs by fate
// (nil when every run was confirmed): confirmed (printed), refused by the
// broker (not queued), unknown (a confirm lost with the connection: may or
// may not be queued), and not published (the inputs to publish again).
func (c *cli) reportRuns(runs []publishedRun) error {
	var confirmed, refused, unknown, unsent int
	firstUnsent, why := 0, error(nil)
	for i, r := range runs {
		switch {
		case r.sent == 0:
			if unsent == 0 {
				firstUnsent, why = i+1, r.err
			}
			unsent++
			continue
		case r.err == nil:
			confirmed++
			continue
		case errors.Is(r.err, ErrNacked) || errors.Is(r.err, ErrReturned):
			refused++
		default:
			unknown++
		}
		fate := "not confirmed"
		if r.sent < r.outs {
			fate = fmt.Sprintf("not confirmed (only %d of its %d messages were sent)", r.sent, r.outs)
		}
		fmt.Fprintf(c.stderr, "%s: publish: run %s (input %d) %s: %v\n", c.prog, r.id, i+1, fate, r.err)
	}
	if confirmed == len(runs) {
		return nil
	}
	parts := []string{fmt.Sprintf("%d of %d runs confirmed (their run IDs printed)", confirmed, len(runs))}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by the broker: not queued (listed above)", refused))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unconfirmed: the connection closed or the command was interrupted before their confirms came, so each may or may not be queued (listed above)", unknown))
	}
	if unsent > 0 {
		parts = append(parts, fmt.Sprintf("%d not published (%v): inputs %d to %d (counting the JSON arguments, or the non-blank lines of stdin); publish those again", unsent, why, firstUnsent, len(runs)))
	}
	return fmt.Errorf("publish: %s", strings.Join(parts, "; "))
}
