package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
	"go.opentelemetry.io/otel/trace"
)

// Local is a whole graph running in this process on an in-memory broker
// (package memory's): every consuming node in one engine, plus a consumer
// of every terminate node's queue that collects the results. It backs the
// `local` subcommand and the dgetest package.
type Local struct {
	g        Graph
	mem      LocalBroker
	e        *engine
	conn     Conn
	onResult func(Result)

	pubMu sync.Mutex
	pub   Channel

	cancel    context.CancelFunc
	engineErr chan error
	consumers sync.WaitGroup // the collectors of results
	collected []Consumer     // their consumers
	stopOnce  sync.Once
	stopErr   error

	mu       sync.Mutex
	results  []Result
	failures []Result                   // failure records: Failed set
	runs     map[string]Node            // run ID → its start node, until the run has ended
	byQueue  map[string]Node            // the graph's nodes by the queue that feeds them
	outcomes map[string]map[string]bool // run ID → terminate nodes that received its result or failure record
	changed  chan struct{}              // closed and replaced when a result or failure record arrives
}

// localAggregatePrefetch is the prefetch of an aggregate run by Local,
// whatever the graph sets: no limit in practice. The in-memory broker holds
// every message in memory anyway, and nodes sharing one process drift far
// apart (one branch can run tens of thousands of runs ahead of another), so
// a window that holds the whole backlog joins it in one pass where a bounded
// one would rotate it round the queue many times.
const localAggregatePrefetch = 1 << 24

// LocalBroker is the broker a Local runs on: a Transport that holds the
// graph's topology in this process and lets Local read its queues.
// Package memory's Broker is one.
type LocalBroker interface {
	Transport
	// WaitIdle blocks until no message is left outside the dead queues,
	// or ctx ends.
	WaitIdle(ctx context.Context) error
	// Pending returns, per queue, the messages in it (ready, delayed or
	// unacknowledged), leaving out dead queues and empty ones.
	Pending() map[string]int
	// Messages returns copies of the messages ready in queue, oldest
	// first; an error wrapping ErrNotFound when there is no such queue.
	Messages(queue string) ([]Delivery, error)
	// Enqueued returns when each message ready in queue entered it, in the
	// order of Messages.
	Enqueued(queue string) ([]time.Time, error)
	// ParkedSignal returns a channel closed when a dead queue next
	// receives a message.
	ParkedSignal() <-chan struct{}
	// Dropped returns the number of dead-lettered messages no queue took
	// (RabbitMQ's dead-letter cycle detection drops them).
	Dropped() int
	// Close closes every connection and stops the broker.
	Close() error
}

// LocalOptions configures StartLocal.
type LocalOptions struct {
	// Logger receives the nodes' logs; nil discards them.
	Logger *slog.Logger
	// OnResult, when set, is called with every result as it arrives, before
	// it is acknowledged; calls are not concurrent for one terminate node.
	OnResult func(Result)
	// ShutdownTimeout bounds how long Close lets in-flight messages finish;
	// 0 means 30s.
	ShutdownTimeout time.Duration
	// AggregateTimeout, when positive, replaces every aggregate node's
	// timeout: how long an incomplete group waits before it is parked.
	AggregateTimeout time.Duration
	// PollTimeout, when positive, replaces every poll node's timeout: how
	// long a job may stay not done before it is parked.
	PollTimeout time.Duration
	// TracerProvider traces every run as a node program does (see the
	// package documentation, Tracing); nil turns tracing off.
	TracerProvider trace.TracerProvider
}

// Result is one message that reached a terminate node: a result, or the
// failure record of a run that failed upstream (Failed set, Body nil).
type Result struct {
	Node      string // the terminate node's address, e.g. "terminate.result"
	RunID     string
	MessageID string
	Body      []byte      // compact JSON; nil for a failure record
	Failed    *RunFailure // where and why the run failed; nil for a result
}

// StartLocal starts every node of g on b, an in-memory broker holding g's
// topology (memory.New(g, opts) makes one), and takes b over: Close
// closes it, and so does a failed start.
func StartLocal(g Graph, b LocalBroker, opts LocalOptions) (*Local, error) {
	if err := g.Check(); err != nil {
		b.Close()
		return nil, fmt.Errorf("invalid graph: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g.Nodes = slices.Clone(g.Nodes)
	for i, n := range g.Nodes {
		switch {
		case n.kind == KindAggregate && opts.AggregateTimeout > 0:
			g.Nodes[i].timeout = opts.AggregateTimeout
		case n.kind == KindPoll && opts.PollTimeout > 0:
			g.Nodes[i].timeout = opts.PollTimeout
		}
	}
	l := &Local{
		runs:      map[string]Node{},
		byQueue:   g.nodesByQueue(),
		outcomes:  map[string]map[string]bool{},
		g:         g,
		mem:       b,
		onResult:  opts.OnResult,
		engineErr: make(chan error, 1),
		changed:   make(chan struct{}),
	}
	shutdown := opts.ShutdownTimeout
	if shutdown <= 0 {
		shutdown = 30 * time.Second
	}
	l.e = &engine{g: &l.g, tr: l.mem, log: log.With("graph", g.Name), metrics: newMetrics(g.Name), shutdownTimeout: shutdown, connName: "local",
		tracer: newTracer(opts.TracerProvider)}
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
		prefetch := n.in.Prefetch
		if prefetch <= 0 {
			prefetch = startWindow
		}
		ds, err := ch.Consume(ctx, n.in.Queue, prefetch)
		if err != nil {
			return fail(err)
		}
		l.collected = append(l.collected, ds)
		l.consumers.Go(func() { l.collect(ch, ds, n) })
	}
	var runs []*nodeRun
	for _, n := range g.Nodes {
		if n.Consumes() {
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
	for {
		d, ok := ds.Next()
		if !ok {
			return
		}
		if t := l.e.tracer; t != nil {
			d.span = t.startResult(context.Background(), n, &d)
		}
		if f, ok := noticeOf(d.Message); ok {
			if d.RunID != "" {
				l.record(Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID, Failed: &f})
			} else {
				discardNotice(l.e.log, n, d, f)
			}
			err := ch.Ack(d.Tag, false)
			if err != nil {
				l.e.log.Error("ack failure record", "node", n.Addr(), "error", err.Error())
			}
			endSpan(d.span, err)
			continue
		}
		var buf bytes.Buffer
		_, err := n.decodeBody(d.Body, l.g.maxBody())
		if err == nil {
			err = json.Compact(&buf, d.Body)
		}
		if err != nil {
			perr := parkResult(context.Background(), &l.g, l.e.log, ch, n, d, err)
			if perr != nil {
				l.e.log.Error("park result", "node", n.Addr(), "error", perr.Error())
			}
			endSpan(d.span, perr)
			continue
		}
		l.record(Result{Node: n.Addr(), RunID: d.RunID, MessageID: d.MessageID, Body: buf.Bytes()})
		err = ch.Ack(d.Tag, false)
		if err != nil {
			l.e.log.Error("ack result", "node", n.Addr(), "error", err.Error())
		}
		endSpan(d.span, err)
	}
}

// record takes in a result or failure record, before it is acknowledged.
func (l *Local) record(r Result) {
	if l.onResult != nil {
		l.onResult(r)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Failed != nil {
		l.failures = append(l.failures, r)
	} else {
		l.results = append(l.results, r)
	}
	if l.outcomes[r.RunID] == nil {
		l.outcomes[r.RunID] = map[string]bool{}
	}
	l.outcomes[r.RunID][r.Node] = true
	close(l.changed)
	l.changed = make(chan struct{})
}

// nodesByQueue returns g's nodes by the queue that feeds them.
func (g *Graph) nodesByQueue() map[string]Node {
	byQueue := map[string]Node{}
	for _, n := range g.Nodes {
		if n.kind != KindStart {
			byQueue[n.in.Queue] = n
		}
	}
	return byQueue
}

// runEnded reports whether a run from start node start has ended when the
// terminate nodes (addresses) in reached have its result or failure
// record (byQueue: its graph's nodesByQueue): every terminate node its
// messages reach has, except that past a route the terminate nodes of one
// of its paths suffice, since a run, its failure notices and its empty
// split markers take one path there.
func runEnded(byQueue map[string]Node, start Node, reached map[string]bool) bool {
	memo := map[string]bool{} // queue → ended past it (graphs are acyclic)
	var past func(q string) bool
	past = func(q string) bool {
		if v, ok := memo[q]; ok {
			return v
		}
		n, ok := byQueue[q]
		var v bool
		switch {
		case !ok:
			v = true // no node: nothing to wait for
		case n.kind == KindTerminate:
			v = reached[n.Addr()]
		default:
			v = n.kind != KindRoute || len(n.to) == 0
			for _, to := range n.to {
				if n.kind == KindRoute {
					v = v || past(to) // one path
				} else {
					v = v && past(to) // every output
				}
			}
		}
		memo[q] = v
		return v
	}
	for _, q := range start.to {
		if !past(q) {
			return false
		}
	}
	return true
}

// Publish sends body, a JSON message of start node start's type (checked
// strictly: unknown fields are refused), as a new run to every queue the
// start node feeds, and returns the run ID. start is a node name, command
// or address. When traced, the run's publish span is a child of the span
// in ctx, if any, and otherwise starts the run's own trace.
func (l *Local) Publish(ctx context.Context, start string, body []byte) (string, error) {
	n, ok := l.g.Node(start)
	if !ok || n.kind != KindStart {
		return "", fmt.Errorf("%q is not a start node of graph %q (start nodes: %s)", start, l.g.Name, strings.Join(l.nodeNames(KindStart), ", "))
	}
	b, err := n.validateBody(body, l.g.maxBody())
	if err != nil {
		return "", fmt.Errorf("not a valid %s message: %w", n.Addr(), err)
	}
	runID, outs := l.g.newRun(n, b)
	l.mu.Lock()
	l.runs[runID] = n
	l.mu.Unlock()
	var span trace.Span
	if t := l.e.tracer; t != nil {
		span = t.startPublish(ctx, n, runID, outs)
	}
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	for _, o := range outs {
		conf, err := l.pub.Publish(ctx, o.exchange, o.key, o.msg)
		if err == nil {
			err = conf.Wait(ctx)
		}
		if err != nil {
			err = fmt.Errorf("publish run %s to queue %s: %w", runID, o.key, err)
			endSpan(span, err)
			return "", err
		}
	}
	endSpan(span, nil)
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

// Results returns every result so far, in arrival order (failure records
// are in Failures).
func (l *Local) Results() []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.results)
}

// Failures returns every failure record so far, in arrival order: one per
// run that failed, at each terminate node the run would have reached (past
// a route: those of one path, the route's default, else its first
// label's).
func (l *Local) Failures() []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.failures)
}

// WaitResults waits until at least n results of terminate node terminate
// (a name, command or address) have arrived, and returns all of them so
// far, in arrival order. It returns ctx's error, with the results so far,
// if ctx ends first.
func (l *Local) WaitResults(ctx context.Context, terminate string, n int) ([]Result, error) {
	return l.waitTerminate(ctx, terminate, n, "results", &l.results)
}

// WaitFailures waits until at least n failure records of terminate node
// terminate (a name, command or address) have arrived, and returns all of
// them so far, in arrival order. It returns ctx's error, with the records
// so far, if ctx ends first.
func (l *Local) WaitFailures(ctx context.Context, terminate string, n int) ([]Result, error) {
	return l.waitTerminate(ctx, terminate, n, "failure records", &l.failures)
}

func (l *Local) waitTerminate(ctx context.Context, terminate string, n int, what string, list *[]Result) ([]Result, error) {
	node, ok := l.g.Node(terminate)
	if !ok || node.kind != KindTerminate {
		return nil, fmt.Errorf("%q is not a terminate node of graph %q (terminate nodes: %s)", terminate, l.g.Name, strings.Join(l.nodeNames(KindTerminate), ", "))
	}
	for {
		l.mu.Lock()
		var got []Result
		for _, r := range *list {
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
			return got, fmt.Errorf("%d of %d %s from %s: %w", len(got), n, what, node.Addr(), ctx.Err())
		}
	}
}

// WaitRuns waits until every run published so far has ended: it has a
// result or a failure record at every terminate node its start reaches,
// where past a route the terminate nodes of one of its paths suffice (a
// run takes one path).
// Unlike WaitIdle it does not wait for what a failed run leaves behind
// (a branch still retrying, a part an aggregate has yet to park). It
// returns ctx's error if ctx ends first.
func (l *Local) WaitRuns(ctx context.Context) error {
	for {
		l.mu.Lock()
		open := 0
		for id, start := range l.runs {
			if runEnded(l.byQueue, start, l.outcomes[id]) {
				delete(l.runs, id)
			} else {
				open++
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d runs not ended: %w", open, ctx.Err())
		}
	}
}

// WaitIdle waits until every run has finished: no message is left in the
// broker outside the dead queues (none ready, none waiting in a retry or
// poll queue, none unacknowledged: every result was collected). Publish
// every input first. An aggregate's incomplete group counts as unfinished
// until its timeout parks it. A gather's state queue does not count (its
// active instance always holds a message there): a split whose missing
// items were parked upstream is left open in it, finished as far as
// WaitIdle is concerned, until its timeout parks it.
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
		nd, ok := l.g.Node(node)
		if !ok {
			return nil, fmt.Errorf("graph %q has no node %q", l.g.Name, node)
		}
		addr = nd.Addr()
	}
	for {
		signal := l.mem.ParkedSignal()
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
		// A result recorded (WaitResults may have returned it) is
		// acknowledged before the connection goes: the collectors end
		// once they settled what they took.
		for _, c := range l.collected {
			_ = c.Cancel()
		}
		l.consumers.Wait()
		_ = l.conn.Close()
		_ = l.mem.Close()
	})
	return l.stopErr
}
