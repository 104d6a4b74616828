package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
without it, it is acknowledged and counted on stderr.`, c.nodeNames(KindTerminate)), true)
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
	n, ok := c.g.node(pos[0])
	if !ok || n.kind != KindTerminate {
		return usageError{fmt.Sprintf("consume: %q is not a terminate node of graph %q", pos[0], c.g.Name)}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	eps, err := c.endpoints(log)
	if err != nil {
		return err
	}
	conn, err := transport(eps, log, nil).Dial(ctx, c.connName("consume"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", endpointName(conn))
	e := &engine{g: &c.g, log: log, vhost: eps.Vhost()}
	if err := e.verify(ctx, conn, []*nodeRun{{n: n}}); err != nil {
		return err
	}
	prefetch := n.in.Prefetch
	if prefetch <= 0 {
		prefetch = startWindow
	}
	if *limit > 0 && *limit < prefetch {
		prefetch = *limit
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
	t := newTracer(c.tp)
	w := bufio.NewWriter(c.stdout)
	got, skipped := 0, 0
	defer func() {
		if skipped > 0 {
			fmt.Fprintf(c.stderr, "consume: skipped %s of runs that failed upstream (consume -envelope prints them)\n", plural(skipped, "failure record"))
		}
	}()
	for *limit == 0 || got < *limit {
		var d Delivery
		select {
		case <-ctx.Done():
			if *limit > 0 {
				return fmt.Errorf("consume: got %d of %d results from queue %q before stopping", got, *limit, n.in.Queue)
			}
			return nil
		case <-ch.Done():
			return fmt.Errorf("consume: channel to queue %q closed after %d results", n.in.Queue, got)
		case dd, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("consume: consumer of queue %q cancelled by the broker after %d results", n.in.Queue, got)
			}
			d = dd
		}
		if t != nil {
			d.span = t.startResult(ctx, n, &d)
		}
		did, err := c.printResult(ctx, w, log, ch, n, d, *envelope)
		endSpan(d.span, err)
		if err != nil {
			return err
		}
		switch did {
		case skippedRecord:
			skipped++
			continue
		case parkedResult:
			continue
		}
		got++
	}
	return nil
}

// consumed is what consume did with one message.
type consumed int

const (
	printed       consumed = iota // printed a result or, with -envelope, a failure record, and acked it
	skippedRecord                 // acked a failure record without printing it (no -envelope)
	parkedResult                  // parked a message that is not a result of the node's type
)

// printResult prints message d of terminate node n to w and acks it, or
// parks it when it does not decode. A failure record is printed only with
// envelope, and acked either way.
func (c *cli) printResult(ctx context.Context, w *bufio.Writer, log *slog.Logger, ch Channel, n Node, d Delivery, envelope bool) (consumed, error) {
	if f, ok := noticeOf(d.Message); ok {
		if envelope {
			line, err := resultJSON(Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID, Failed: &f})
			if err != nil {
				return 0, fmt.Errorf("consume: %w", err)
			}
			if err := writeLine(w, line); err != nil {
				return 0, err
			}
		}
		if err := ch.Ack(d.Tag, false); err != nil {
			return 0, fmt.Errorf("consume: ack failure record from queue %q: %w", n.in.Queue, err)
		}
		if !envelope {
			return skippedRecord, nil
		}
		return printed, nil
	}
	var buf bytes.Buffer
	_, decErr := n.decodeBody(d.Body, c.g.maxBody())
	if decErr == nil {
		decErr = json.Compact(&buf, d.Body)
	}
	if decErr != nil {
		// Not a result of this node's type: park it rather than print
		// garbage or drop it.
		return parkedResult, parkResult(ctx, &c.g, log, ch, n, d, decErr)
	}
	line := buf.Bytes()
	if envelope {
		var err error
		if line, err = resultJSON(Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID, Body: line}); err != nil {
			return 0, fmt.Errorf("consume: %w", err)
		}
	}
	if err := writeLine(w, line); err != nil {
		return 0, err
	}
	if err := ch.Ack(d.Tag, false); err != nil {
		return 0, fmt.Errorf("consume: ack result from queue %q: %w", n.in.Queue, err)
	}
	return printed, nil
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
