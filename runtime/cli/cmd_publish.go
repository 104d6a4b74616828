package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	dge "github.com/dgehq/dge/runtime"
)

// cmdPublish publishes each input as a new run to every queue the start
// node feeds. Every input is validated before anything is published.
func (c *cli) cmdPublish(ctx context.Context, args []string) error {
	fs := c.flagSet("publish", "publish <start> [JSON...]", fmt.Sprintf(`
Publishes each JSON argument, or each line of stdin when there is none, as
the input of a new run of the start node <start> (%s), and prints one run
ID per line once the broker confirmed the run. Every input is checked
against the node's message type before anything is published.`, c.nodeNames(dge.KindStart)), true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"publish: name a start node: publish <start> [JSON...]"}
	}
	n, ok := c.g.Node(fs.Arg(0))
	if !ok || n.Kind() != dge.KindStart {
		return usageError{fmt.Sprintf("publish: %q is not a start node of graph %q", fs.Arg(0), c.g.Name)}
	}
	log, eps, g, err := c.connect(flagVhost(fs), slog.LevelDebug)
	if err != nil {
		return err
	}
	var bodies [][]byte
	if inputs := fs.Args()[1:]; len(inputs) > 0 {
		for i, s := range inputs {
			if err := notJSON([]byte(s), true); err != nil {
				return usageError{fmt.Sprintf("publish: argument %d is not a valid %s message: %v (nothing was published)", i+1, n.Addr(), err)}
			}
			b, err := g.CheckInput(n, []byte(s))
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

	conn, err := eps.Transport(log).Dial(ctx, c.connName("publish"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", dge.EndpointName(conn))
	runs, err := dge.Publish(ctx, conn, g, n, bodies, dge.PublishOptions{TracerProvider: c.tp})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Sent > 0 && r.Err == nil {
			fmt.Fprintln(c.stdout, r.RunID)
		}
	}
	return c.reportRuns(runs)
}

// reportRuns writes to stderr one line for every run that was sent but not
// confirmed, saying why, and returns an error that counts the runs by fate
// (nil when every run was confirmed): confirmed (printed), refused by the
// broker (not queued), unknown (a confirm lost with the connection: may or
// may not be queued), and not published (the inputs to publish again).
func (c *cli) reportRuns(runs []dge.RunReceipt) error {
	var confirmed, refused, unknown, unsent int
	firstUnsent, why := 0, error(nil)
	for i, r := range runs {
		switch {
		case r.Sent == 0:
			if unsent == 0 {
				firstUnsent, why = i+1, r.Err
			}
			unsent++
			continue
		case r.Err == nil:
			confirmed++
			continue
		case errors.Is(r.Err, dge.ErrNacked) || errors.Is(r.Err, dge.ErrReturned):
			refused++
		default:
			unknown++
		}
		fate := "not confirmed"
		if r.Sent < r.Messages {
			fate = fmt.Sprintf("not confirmed (only %d of its %d messages were sent)", r.Sent, r.Messages)
		}
		fmt.Fprintf(c.stderr, "%s: publish: run %s (input %d) %s: %v\n", c.prog, r.RunID, i+1, fate, r.Err)
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
