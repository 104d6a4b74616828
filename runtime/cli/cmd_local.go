package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	dge "github.com/dgehq/dge/runtime"
)

// cmdLocal runs the whole graph in this process on the in-memory broker:
// each stdin line is a run's input for the start node; every result is
// printed to stdout as a compact JSON line; the command exits once every
// run has finished.
func (c *cli) cmdLocal(ctx context.Context, args []string) error {
	fs := c.flagSet("local", "local [-timeout D] [-start NAME] [-envelope] < inputs.jsonl", `
Runs every node of the graph in this process on an in-memory broker (no
RabbitMQ). Each stdin line is the JSON input of one run; every result is
printed as a JSON line (with -envelope, every failed run's failure record
too). Exits 0 as soon as every run has ended (a result or a failure
record), with parked messages reported on stderr; 1 if -timeout passes
first.`, false)
	timeout := fs.Duration("timeout", 0, "give up, exiting 1, if the runs have not finished after this long (0: no limit)")
	start := fs.String("start", "", "the start node that receives the input (required when the graph has several)")
	envelope := fs.Bool("envelope", false, `print each result as {"node":...,"run_id":...,"message_id":...,"result":...} instead of the bare result, and each failed run as {"node":...,"run_id":...,"message_id":...,"failed":{"node":...,"reason":...,"error":...}}`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("local: unexpected argument %q: inputs are read from stdin, one JSON message per line", fs.Arg(0))}
	}
	if *timeout < 0 {
		return usageError{"local: -timeout must not be negative"}
	}
	var startNode dge.Node
	if *start == "" {
		var starts []dge.Node
		for _, n := range c.g.Nodes {
			if n.Kind() == dge.KindStart {
				starts = append(starts, n)
			}
		}
		if len(starts) != 1 {
			var names []string
			for _, n := range starts {
				names = append(names, n.Command())
			}
			return usageError{fmt.Sprintf("local: the graph has %d start nodes (%s): choose one with -start", len(starts), strings.Join(names, ", "))}
		}
		startNode = starts[0]
	} else {
		n, ok := c.g.Node(*start)
		if !ok || n.Kind() != dge.KindStart {
			return usageError{fmt.Sprintf("local: -start %q is not a start node of graph %q", *start, c.g.Name)}
		}
		startNode = n
	}

	inputs, err := c.readInputs(startNode)
	if err != nil {
		return err
	}
	log, err := c.localLogger()
	if err != nil {
		return err
	}
	// Handlers log through slog.Default as a node process's do, at
	// DGE_LOG's level (info by default), whether or not the runtime's own
	// lines are shown.
	handlerLog, err := c.logger()
	if err != nil {
		return err
	}
	defer useAsDefault(handlerLog)()

	out := bufio.NewWriter(c.stdout)
	var outMu sync.Mutex
	var writeErr error
	skipped := 0 // failure records not printed (without -envelope)
	mem := c.local(c.g)
	l, err := dge.StartLocal(c.g, mem, dge.LocalOptions{
		Logger:         log,
		TracerProvider: c.tp,
		OnResult: func(r dge.Result) {
			line := r.Body
			outMu.Lock()
			defer outMu.Unlock()
			if r.Failed != nil && !*envelope {
				skipped++
				return
			}
			if *envelope {
				var err error
				if line, err = resultJSON(r); err != nil {
					if writeErr == nil {
						writeErr = err
					}
					return
				}
			}
			out.Write(line)
			out.WriteByte('\n')
			if err := out.Flush(); err != nil && writeErr == nil {
				writeErr = err
			}
		},
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = l.Close()
		}
	}()

	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	for i, body := range inputs {
		if _, err := l.Publish(ctx, startNode.Name(), body); err != nil {
			return fmt.Errorf("local: input %d: %w", i+1, err)
		}
	}
	idleErr := waitEnded(ctx, l)
	pending := l.Pending()
	stopped = true
	closeErr := l.Close()
	results := len(l.Results())
	failed := len(l.Failures())
	parked := l.Parked()
	for _, f := range parked {
		fmt.Fprintf(c.stderr, "parked: %s (queue %s.dead) run %s, reason %s, attempt %d: %s; body %s\n",
			f.Node, f.Queue, f.RunID, f.Reason, f.Attempt, f.Error, strings.TrimSpace(string(f.Body)))
	}
	fmt.Fprintf(c.stderr, "%s local: %s, %s, %s, %d parked\n", c.prog, plural(len(inputs), "run"), plural(results, "result"),
		plural(failed, "failure record"), len(parked))
	outMu.Lock()
	if skipped > 0 {
		fmt.Fprintf(c.stderr, "%s local: %s not printed (-envelope prints them)\n", c.prog, plural(skipped, "failure record"))
	}
	outMu.Unlock()
	if dropped := mem.Dropped(); dropped > 0 {
		fmt.Fprintf(c.stderr, "%s local: %d messages dropped by dead-letter cycle detection (a crash loop past the delivery limit)\n", c.prog, dropped)
	}
	outMu.Lock()
	werr := writeErr
	outMu.Unlock()
	switch {
	case werr != nil:
		return fmt.Errorf("local: write results: %w", werr)
	case idleErr != nil:
		var qs []string
		for q, n := range pending {
			qs = append(qs, fmt.Sprintf("%s: %d", q, n))
		}
		slices.Sort(qs)
		why := "interrupted"
		if errors.Is(idleErr, context.DeadlineExceeded) {
			why = fmt.Sprintf("-timeout %s passed", *timeout)
		}
		return fmt.Errorf("local: %s before every run finished; messages still in flight by queue: %s", why, strings.Join(qs, ", "))
	case closeErr != nil:
		return fmt.Errorf("local: %w", closeErr)
	}
	return nil
}

// waitEnded waits until every run published to l has ended (a result or a
// failure record at each terminate it reaches) or, should a run have
// neither (a result that does not decode is parked at its terminate), until
// nothing is left in flight. It returns ctx's error if ctx ends first.
func waitEnded(ctx context.Context, l *dge.Local) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- l.WaitRuns(ctx) }()
	go func() { errs <- l.WaitIdle(ctx) }()
	err := <-errs
	if err == nil {
		return nil
	}
	if err2 := <-errs; err2 == nil {
		return nil
	}
	return err
}

// localLogger logs at DGE_LOG's level, or not at all when it is unset:
// local reports results and parked messages itself. It has no graph
// attribute: StartLocal adds it (adding it here too printed "graph" twice
// on every line).
func (c *cli) localLogger() (*slog.Logger, error) {
	if c.getenv("DGE_LOG") == "" {
		return slog.New(slog.DiscardHandler), nil
	}
	h, err := c.logHandler()
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
