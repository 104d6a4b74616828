package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"

	dge "github.com/dgehq/dge/runtime"
)

// cmdConsume prints the results in a terminate node's queue as compact JSON
// lines and acks each one after it is written. Failure records (the
// failure notices of runs that failed upstream) are printed with -envelope,
// and otherwise acked, skipped and counted on stderr.
func (c *cli) cmdConsume(ctx context.Context, args []string) (err error) {
	fs := c.flagSet("consume", "consume <terminate> [-n N] [-timeout D] [-envelope]", fmt.Sprintf(`
Prints the results in the queue of the terminate node <terminate> (%s) as
compact JSON lines, acknowledging each once it is written. A message that
is not a result of the node's type is parked in the queue's .dead queue.
A failure record (a run that failed upstream) is printed with -envelope;
without it, it is acknowledged and counted on stderr.`, c.nodeNames(dge.KindTerminate)), true)
	limit := fs.Int("n", 0, "exit after N results (with -envelope, results and failure records; 0: run until SIGINT/SIGTERM or -timeout)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit); with -n, fewer than N results is an error")
	envelope := fs.Bool("envelope", false, `print each result as {"node":...,"run_id":...,"message_id":...,"result":...} instead of the bare result, and each failed run as {"node":...,"run_id":...,"message_id":...,"failed":{"node":...,"reason":...,"error":...}}`)
	// Let flags follow the node name too: consume result -n 5.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usageError{"consume: name one terminate node: consume <terminate> [-n N] [-timeout D] [-envelope]"}
	}
	if *limit < 0 || *timeout < 0 {
		return usageError{"consume: -n and -timeout must not be negative"}
	}
	n, ok := c.g.Node(pos[0])
	if !ok || n.Kind() != dge.KindTerminate {
		return usageError{fmt.Sprintf("consume: %q is not a terminate node of graph %q", pos[0], c.g.Name)}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	log, eps, g, err := c.connect(flagVhost(fs), slog.LevelDebug)
	if err != nil {
		return err
	}
	conn, err := eps.Transport(log).Dial(ctx, c.connName("consume"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", dge.EndpointName(conn))
	opts := dge.ConsumeOptions{MaxPrefetch: *limit, Logger: log, TracerProvider: c.tp}
	w := bufio.NewWriter(c.stdout)
	got, skipped := 0, 0
	defer func() {
		if skipped > 0 {
			fmt.Fprintf(c.stderr, "consume: skipped %s of runs that failed upstream (consume -envelope prints them)\n", plural(skipped, "failure record"))
		}
	}()
	err = dge.Consume(ctx, conn, g, n, opts, func(r dge.Result) (bool, error) {
		line := r.Body
		switch {
		case r.Failed != nil && !*envelope:
			skipped++
			return true, nil
		case *envelope:
			var err error
			if line, err = resultJSON(r); err != nil {
				return false, fmt.Errorf("consume: %w", err)
			}
		}
		if err := writeLine(w, line); err != nil {
			return false, err
		}
		got++
		return *limit == 0 || got < *limit, nil
	})
	switch {
	case err != nil && err == ctx.Err(): // Consume's own stop
		if *limit > 0 {
			return fmt.Errorf("consume: got %d of %d results from queue %q before stopping", got, *limit, n.Edge().Queue)
		}
		return nil
	case errors.Is(err, dge.ErrConsumerGone):
		return fmt.Errorf("%w after %d results", err, got)
	}
	return err
}

// writeLine writes line and a newline to w and flushes it.
func writeLine(w *bufio.Writer, line []byte) error {
	w.Write(line)
	w.WriteByte('\n')
	if err := w.Flush(); err != nil {
		return fmt.Errorf("consume: write result: %w", err)
	}
	return nil
}
