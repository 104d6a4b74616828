package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
)

// Local is a whole graph running in this process on an in-memory broker
// (Memory): every consuming node in one engine, plus a consumer of every
// terminate node's queue that collects the results. It backs the `local`
// subcommand and the dgetest package.
type Local struct {
	g        Graph
	mem      *Memory
	e        *engine
	conn     Conn
	onResult func(Result)

	pubMu sync.Mutex
	pub   Channel

	cancel    context.CancelFunc
	engineErr chan error
	consumers sync.WaitGroup
	stopOnce  sync.Once
	stopErr   error

	mu      sync.Mutex
	results []Result
	changed chan struct{} // closed and replaced when a result arrives
}

// localAggregatePrefetch is the prefetch of an aggregate run by Local,
// whatever the graph sets: no limit in practice. The in-memory broker holds
// every message in memory anyway, and nodes sharing one process drift far
// apart (one branch can run tens of thousands of runs ahead of another), so
// a window that holds the whole backlog joins it in one pass where a bounded
// one would rotate it round the queue many times.
const localAggregatePrefetch = 1 << 24

// LocalOptions configures StartLocal.
type LocalOptions struct {
	// Logger receives the nodes' logs; nil discards them.
	Logger *slog.Logger
	// Memory adjusts the in-memory broker (shorter retry delays and poll
	// intervals for tests).
	Memory MemoryOptions
	// OnResult, when set, is called with every result as it arrives, before
	// it is acknowledged; calls are not concurrent for one terminate node.
	OnResult func(Result)
	// ShutdownTimeout bounds how long Close lets in-flight messages finish;
	// 0 means 30s.
	ShutdownTimeout time.Duration
}

// Result is one message that reached a terminate node.
type Result struct {
	Node      string // the terminate node's address, e.g. "terminate.result"
	RunID     string
	MessageID string
	Body      []byte // compact JSON
}

// StartLocal starts every node of g on a new in-memory broker holding g's
// topology. Close stops it.
func StartLocal(g Graph, opts LocalOptions) (*Local, error) {
	if err := (&cli{g: g}).check(); err != nil {
		return nil, fmt.Errorf("invalid graph: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Local{
		g:         g,
		mem:       NewMemory(g, opts.Memory),
		onResult:  opts.OnResult,
		engineErr: make(chan error, 1),
		changed:   make(chan struct{}),
	}
	shutdown := opts.ShutdownTimeout
	if shutdown <= 0 {
		shutdown = 30 * time.Second
	}
	l.e = &engine{g: &l.g, tr: l.mem, log: log.With("graph", g.Name), metrics: newMetrics(g.Name), shutdownTimeout: shutdown, connName: "local"}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	fail := func(err error) (*Local, error) {
		cancel()
		l.mem.Close()
		return nil, err
	}
	conn, err := l.mem.Dial(ctx, "local")
	if err != nil {
		return fail(err)
	}
	l.conn = conn
	if l.pub, err = conn.Channel(ctx, 1024); err != nil {
		return fail(err)
	}
	for _, n := range g.Nodes {
		if n.kind != KindTerminate {
			continue
		}
		ch, err := conn.Channel(ctx, 16)
		if err != nil {
			return fail(err)
		}
		prefetch := max(n.in.Prefetch, 1)
		ds, err := ch.Consume(ctx, n.in.Queue, prefetch)
		if err != nil {
			return fail(err)
		}
		l.consumers.Go(func() { l.collect(ch, ds, n) })
	}
	var runs []*nodeRun
	for _, n := range g.Nodes {
		if n.consumes() {
			prefetch := 0
			if n.kind == KindAggregate {
				prefetch = localAggregatePrefetch
			}
			runs = append(runs, l.e.newRun(n, prefetch, 0))
		}
	}
	go func() { l.engineErr <- l.e.run(ctx, runs) }()
	return l, nil
}

// collect takes a terminate node's results until its consumer ends. A
// result that does not decode as the node's type is parked, as the consume
// subcommand does.
func (l *Local) collect(ch Channel, ds Deliveries, n Node) {
	c := &cli{g: l.g}
	for {
		d, ok := ds.Next()
		if !ok {
			return
		}
		var buf bytes.Buffer
		_, err := n.decodeBody(d.Body, l.g.maxBody())
		if err == nil {
			err = json.Compact(&buf, d.Body)
		}
		if err != nil {
			if perr := c.parkResult(context.Background(), l.e.log, ch, n, d, err); perr != nil {
				l.e.log.Error("park result", "node", n.Addr(), "error", perr.Error())
			}
			continue
		}
		r := Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID, Body: buf.Bytes()}
		if l.onResult != nil {
			l.onResult(r)
		}
		l.mu.Lock()
		l.results = append(l.results, r)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		if err := ch.Ack(d.Tag, false); err != nil {
			l.e.log.Error("ack result", "node", n.Addr(), "error", err.Error())
		}
	}
}

// Memory returns the in-memory broker the graph runs on.
func (l *Local) Memory() *Memory { return l.mem }

// Publish sends body, a JSON message of start node start's type (checked
// strictly: unknown fields are refused), as a new run to every queue the
// start node feeds, and returns the run ID. start is a node name, command
// or address.
func (l *Local) Publish(ctx context.Context, start string, body []byte) (string, error) {
	n, ok := (&cli{g: l.g}).nodeByCommand(start)
	if !ok || n.kind != KindStart {
		return "", fmt.Errorf("%q is not a start node of graph %q (start nodes: %s)", start, l.g.Name, strings.Join(l.nodeNames(KindStart), ", "))
	}
	b, err := n.validateBody(body, l.g.maxBody())
	if err != nil {
		return "", fmt.Errorf("not a valid %s message: %w", n.Addr(), err)
	}
	runID := newRunID()
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	for _, to := range n.to {
		m := Message{Body: b, MessageID: deriveID(runID, nil, n.Addr(), to), RunID: runID, Source: n.Addr(), Attempt: 1}
		conf, err := l.pub.Publish(ctx, l.g.WorkExchange, to, m)
		if err == nil {
			err = conf.Wait(ctx)
		}
		if err != nil {
			return "", fmt.Errorf("publish run %s to queue %s: %w", runID, to, err)
		}
	}
	return runID, nil
}

// nodeNames returns the names of the graph's nodes of kind k.
func (l *Local) nodeNames(k Kind) []string {
	var names []string
	for _, n := range l.g.Nodes {
		if n.kind == k {
			names = append(names, n.name)
		}
	}
	return names
}

// Results returns every result so far, in arrival order.
func (l *Local) Results() []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.results)
}

// WaitResults waits until at least n results of terminate node terminate
// (a name, command or address) have arrived, and returns all of them so
// far, in arrival order. It returns ctx's error, with the results so far,
// if ctx ends first.
func (l *Local) WaitResults(ctx context.Context, terminate string, n int) ([]Result, error) {
	node, ok := (&cli{g: l.g}).nodeByCommand(terminate)
	if !ok || node.kind != KindTerminate {
		return nil, fmt.Errorf("%q is not a terminate node of graph %q (terminate nodes: %s)", terminate, l.g.Name, strings.Join(l.nodeNames(KindTerminate), ", "))
	}
	for {
		l.mu.Lock()
		var got []Result
		for _, r := range l.results {
			if r.Node == node.Addr() {
				got = append(got, r)
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("%d of %d results from %s: %w", len(got), n, node.Addr(), ctx.Err())
		}
	}
}

// WaitIdle waits until every run has finished: no message is left in the
// broker outside the dead queues (none ready, none waiting in a retry or
// poll queue, none unacknowledged: every result was collected). Publish
// every input first. An aggregate's incomplete group counts as unfinished
// until its timeout parks it.
func (l *Local) WaitIdle(ctx context.Context) error {
	return l.mem.WaitIdle(ctx)
}

// Pending returns, per queue, the messages still in it (ready, delayed or
// unacknowledged), leaving out dead queues and empty ones.
func (l *Local) Pending() map[string]int { return l.mem.Pending() }

// Parked returns every message parked so far (read from the dead queues,
// where they stay), oldest first.
func (l *Local) Parked() []Failure {
	var fs []Failure
	for _, n := range l.g.Nodes {
		if n.kind == KindStart {
			continue
		}
		q := n.in.Queue
		ds, err := l.mem.Messages(q + topology.SuffixDead)
		if err != nil {
			continue // cannot happen: the broker derives its queues from the graph
		}
		at, _ := l.mem.Enqueued(q + topology.SuffixDead)
		for i, d := range ds {
			f := Failure{
				Node: n.Addr(), Queue: q, RunID: d.RunID, MessageID: d.MessageID, Attempt: d.Attempt,
				Body: preview(d.Body), BodySize: len(d.Body),
			}
			if s, ok := d.Headers[HeaderNode].(string); ok && s != "" {
				f.Node = s
			}
			f.Reason, _ = d.Headers[HeaderReason].(string)
			f.Error, _ = d.Headers[HeaderError].(string)
			if i < len(at) {
				f.ParkedAt = at[i].UTC()
			}
			fs = append(fs, f)
		}
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].ParkedAt.Before(fs[j].ParkedAt) })
	return fs
}

// WaitParked waits until at least n messages parked by node (a name,
// command or address; "" for any node) are in the dead queues, and returns
// them all, oldest first. It returns ctx's error, with the messages so far,
// if ctx ends first.
func (l *Local) WaitParked(ctx context.Context, node string, n int) ([]Failure, error) {
	addr := ""
	if node != "" {
		nd, ok := (&cli{g: l.g}).nodeByCommand(node)
		if !ok {
			return nil, fmt.Errorf("graph %q has no node %q", l.g.Name, node)
		}
		addr = nd.Addr()
	}
	for {
		signal := l.mem.parkedSignal()
		var got []Failure
		for _, f := range l.Parked() {
			if addr == "" || f.Node == addr {
				got = append(got, f)
			}
		}
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-signal:
		case <-ctx.Done():
			what := addr
			if what == "" {
				what = "any node"
			}
			return got, fmt.Errorf("%d of %d messages parked by %s: %w", len(got), n, what, ctx.Err())
		}
	}
}

// Close stops the graph: every node stops consuming and finishes its
// in-flight messages (within the shutdown timeout), the result consumers
// stop, and the broker is closed. It returns the engine's error, if any.
func (l *Local) Close() error {
	l.stopOnce.Do(func() {
		l.cancel()
		l.stopErr = <-l.engineErr
		_ = l.conn.Close()
		l.consumers.Wait()
		_ = l.mem.Close()
	})
	return l.stopErr
}

// cmdLocal runs the whole graph in this process on the in-memory broker:
// each stdin line is a run's input for the start node; every result is
// printed to stdout as a compact JSON line; the command exits once every
// run has finished.
func (c *cli) cmdLocal(ctx context.Context, args []string) error {
	fs := c.flagSet("local")
	timeout := fs.Duration("timeout", 0, "give up, exiting 1, if the runs have not finished after this long (0: no limit)")
	start := fs.String("start", "", "the start node that receives the input (required when the graph has several)")
	envelope := fs.Bool("envelope", false, `print each result as {"node":...,"run_id":...,"result":...} instead of the bare result`)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: %s local [-timeout D] [-start NAME] [-envelope] < inputs.jsonl\n\n", c.prog)
		fmt.Fprintf(c.stderr, "Runs every node of the graph in this process on an in-memory broker (no RabbitMQ).\n"+
			"Each stdin line is the JSON input of one run; every result is printed as a JSON line.\n"+
			"Exits 0 once every run has finished (a result or a parked message), with parked\n"+
			"messages reported on stderr; 1 if -timeout passes first.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("local: unexpected argument %q: inputs are read from stdin, one JSON message per line", fs.Arg(0))}
	}
	if *timeout < 0 {
		return usageError{"local: -timeout must not be negative"}
	}
	var startNode Node
	if *start == "" {
		var starts []Node
		for _, n := range c.g.Nodes {
			if n.kind == KindStart {
				starts = append(starts, n)
			}
		}
		if len(starts) != 1 {
			var names []string
			for _, n := range starts {
				names = append(names, command(n.name))
			}
			return usageError{fmt.Sprintf("local: the graph has %d start nodes (%s): choose one with -start", len(starts), strings.Join(names, ", "))}
		}
		startNode = starts[0]
	} else {
		n, ok := c.nodeByCommand(*start)
		if !ok || n.kind != KindStart {
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

	out := bufio.NewWriter(c.stdout)
	var outMu sync.Mutex
	var writeErr error
	l, err := StartLocal(c.g, LocalOptions{
		Logger: log,
		OnResult: func(r Result) {
			line := r.Body
			if *envelope {
				line, _ = json.Marshal(struct {
					Node   string          `json:"node"`
					RunID  string          `json:"run_id"`
					Result json.RawMessage `json:"result"`
				}{r.Node, r.RunID, r.Body})
			}
			outMu.Lock()
			defer outMu.Unlock()
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
		if _, err := l.Publish(ctx, startNode.name, body); err != nil {
			return fmt.Errorf("local: input %d: %w", i+1, err)
		}
	}
	idleErr := l.WaitIdle(ctx)
	pending := l.Pending()
	stopped = true
	closeErr := l.Close()
	results := len(l.Results())
	parked := l.Parked()
	for _, f := range parked {
		fmt.Fprintf(c.stderr, "parked: %s (queue %s.dead) run %s, reason %s, attempt %d: %s; body %s\n",
			f.Node, f.Queue, f.RunID, f.Reason, f.Attempt, f.Error, strings.TrimSpace(string(f.Body)))
	}
	fmt.Fprintf(c.stderr, "%s local: %s, %s, %d parked\n", c.prog, plural(len(inputs), "run"), plural(results, "result"), len(parked))
	if dropped := l.mem.Dropped(); dropped > 0 {
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

// readInputs reads the start node's inputs for local from stdin and checks
// every one before anything runs.
func (c *cli) readInputs(n Node) ([][]byte, error) {
	bodies, err := c.readStdinMessages("local", n, "nothing was run")
	if err != nil {
		return nil, err
	}
	if len(bodies) == 0 {
		return nil, usageError{fmt.Sprintf(`local: no input: give %s messages as JSON lines on stdin, e.g. echo '{...}' | %s local`, n.Addr(), c.prog)}
	}
	return bodies, nil
}

// readStdinMessages reads one JSON message per stdin line (blank lines
// skipped) and checks each against the start node n's message type. cmd and
// consequence name the command and what a bad line prevents, for errors.
func (c *cli) readStdinMessages(cmd string, n Node, consequence string) ([][]byte, error) {
	var bodies [][]byte
	sc := bufio.NewScanner(c.stdin)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		s := bytes.TrimSpace(sc.Bytes())
		if len(s) == 0 {
			continue
		}
		b, err := n.validateBody(s, c.g.maxBody())
		if err != nil {
			return nil, fmt.Errorf("%s: stdin line %d is not a valid %s message: %v (%s)", cmd, line, n.Addr(), err, consequence)
		}
		bodies = append(bodies, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: read stdin: %w (%s)", cmd, err, consequence)
	}
	return bodies, nil
}

// localLogger logs at DGE_LOG's level, or not at all when it is unset:
// local reports results and parked messages itself.
func (c *cli) localLogger() (*slog.Logger, error) {
	if c.getenv("DGE_LOG") == "" {
		return slog.New(slog.DiscardHandler), nil
	}
	return c.logger()
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
