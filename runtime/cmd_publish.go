package runtime

import (
	"context"
	"fmt"

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

	// pending is one publish awaiting its confirm; span, on a run's last
	// publish, is the run's span (nil: none), ended once it is confirmed.
	type pending struct {
		run  int
		conf Confirmation
		span trace.Span
	}
	confs := make(chan pending, window)
	failed := make([]error, len(bodies))
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for p := range confs {
			if err := p.conf.Wait(ctx); err != nil && failed[p.run] == nil {
				failed[p.run] = err
			}
			endSpan(p.span, failed[p.run])
		}
	}()
	t := newTracer(c.tp)
	runIDs := make([]string, len(bodies))
	var pubErr error
publish:
	for i, body := range bodies {
		var outs []out
		runIDs[i], outs = c.g.newRun(n, body)
		var span trace.Span
		if t != nil {
			span = t.startPublish(ctx, n, runIDs[i], outs)
		}
		for j, o := range outs {
			conf, err := ch.Publish(ctx, o.exchange, o.key, o.msg)
			if err != nil {
				endSpan(span, err)
				pubErr = err
				failed[i] = err
				break publish
			}
			p := pending{run: i, conf: conf}
			if j == len(outs)-1 {
				p.span = span
			}
			confs <- p
		}
	}
	close(confs)
	<-waited
	var nfail int
	var first error
	for i, id := range runIDs {
		if id == "" {
			continue
		}
		if failed[i] != nil {
			nfail++
			if first == nil {
				first = failed[i]
			}
			continue
		}
		fmt.Fprintln(c.stdout, id)
	}
	if pubErr != nil || nfail > 0 {
		return fmt.Errorf("publish: %d of %d runs were not confirmed by the broker (the run IDs printed were): %w", len(bodies)-countOK(runIDs, failed), len(bodies), first)
	}
	return nil
}

func countOK(ids []string, failed []error) int {
	n := 0
	for i, id := range ids {
		if id != "" && failed[i] == nil {
			n++
		}
	}
	return n
}
