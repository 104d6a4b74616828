package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
)

// engine runs consuming nodes of one graph on one connection, reconnecting
// when the connection is lost.
type engine struct {
	g               *Graph
	tr              Transport
	log             *slog.Logger
	metrics         *metrics
	shutdownTimeout time.Duration
	connName        string
	vhost           string // the vhost connected to, when it differs from g.Vhost
	// queueInterval, when positive, is how often the message counts of the
	// nodes' queues are read for the metrics (see metrics.readQueues).
	queueInterval time.Duration
	// tracer traces every message the nodes handle; nil: tracing is off.
	tracer *tracer
	// ready is what /readyz reports (see readiness); nil when the engine
	// serves no probes.
	ready *readiness

	failures sync.WaitGroup // OnFailure calls in progress
}

// nodeRun is one consuming node inside an engine.
type nodeRun struct {
	e           *engine
	n           Node
	addr        string // n.Addr(), computed once: it is needed for every message
	spanName    string // "process " + addr, the name of its spans
	prefetch    int    // the window a session starts with (fixed unless adaptive)
	adaptive    bool   // the window adapts (see window)
	concurrency int
	m           *nodeMetrics
	log         *slog.Logger
	joined      *recentRuns // aggregate: runs whose output was confirmed
	// failed holds, for an aggregate, the runs it knows to have failed, for
	// which it published its one failure notice (or is publishing it: a
	// publish that fails removes the run again): their parts are parked on
	// arrival and further notices discarded.
	failed *recentRuns
	// deliveryLimit is the quorum work queues' delivery-limit (see
	// Graph.DeliveryLimit).
	deliveryLimit int
	maxBody       int  // the graph's body size limit
	debug         bool // log is enabled at debug level: one line per handled message
}

// newRun returns node n's run with the given prefetch and concurrency (0:
// the edge's). A prefetch from the flag or the edge fixes the window; with
// neither, the window adapts (see window), except a fan_out's, which has no
// handler to wait for and takes maxWindow, and an aggregate's, which is at
// least aggregatePrefetch.
func (e *engine) newRun(n Node, prefetch, concurrency int) *nodeRun {
	if prefetch <= 0 {
		prefetch = n.in.Prefetch
		if n.kind == KindAggregate {
			prefetch = max(prefetch, aggregatePrefetch)
		}
	}
	adaptive := prefetch <= 0
	switch {
	case adaptive && n.kind == KindFanOut:
		// No handler: only confirms hold its deliveries.
		prefetch, adaptive = maxWindow, false
	case adaptive:
		prefetch = startWindow
	}
	if concurrency <= 0 {
		concurrency = n.in.Concurrency
	}
	if concurrency <= 0 {
		concurrency = 1
	}
	return &nodeRun{
		e:           e,
		n:           n,
		addr:        n.Addr(),
		spanName:    "process " + n.Addr(),
		prefetch:    prefetch,
		adaptive:    adaptive,
		concurrency: concurrency,
		m:           e.metrics.node(n),
		log:         e.log.With("node", n.Addr(), "queue", n.in.Queue),
		joined:      newRecentRuns(recentRunsSize),
		failed:      newRecentRuns(recentRunsSize),

		deliveryLimit: e.g.DeliveryLimit(),
		maxBody:       e.g.maxBody(),
		debug:         e.log.Enabled(context.Background(), slog.LevelDebug),
	}
}

// publishWindow returns how many publishes a session's channel lets await
// their confirms: with a fixed window, one per output and one park per
// delivery it may hold; with an adaptive one, what the largest window holds
// with one output each (a fan_out beyond that waits for confirms, which
// hundreds in flight keep fast).
func (r *nodeRun) publishWindow() int {
	if r.adaptive {
		return maxWindow + r.concurrency + 16
	}
	return r.prefetch*(len(r.n.to)+1) + r.concurrency + 16
}

// windowMode names how the node's window is sized, for its logs.
func (r *nodeRun) windowMode() string {
	if r.adaptive {
		return "adaptive"
	}
	return "fixed"
}

// errStartup marks an error found before the node ever ran (missing
// topology): it ends the program instead of being retried.
type errStartup struct{ err error }

func (e errStartup) Error() string { return e.err.Error() }

func (e errStartup) Unwrap() error { return e.err }

// run connects, verifies the topology, and runs every node until ctx is
// cancelled, reconnecting whenever the connection is lost: at once to
// another endpoint when the transport has several (see Endpoints), else,
// and when none of them answers, after an exponential backoff with jitter.
// It returns nil after a clean shutdown, and an errStartup for an invalid
// configuration or when the first connection is refused or finds the
// topology missing.
func (e *engine) run(ctx context.Context, runs []*nodeRun) error {
	b := backoff{min: 100 * time.Millisecond, max: 15 * time.Second}
	first := true
	if e.queueInterval > 0 {
		e.metrics.addQueues(e.g.Spec(), runs)
	}
	e.ready.watch(runs)
	defer context.AfterFunc(ctx, e.ready.stop)()
	var lost Conn // the connection just lost, while its endpoint has others
	for {
		conn, err := redial(ctx, e.tr, e.connName, lost)
		lost = nil
		if err == nil {
			err = e.verify(ctx, conn, runs)
			if err != nil {
				_ = conn.Close()
				if errors.Is(err, ErrNotFound) {
					e.ready.setConn(reasonTopology(err))
					if first {
						return errStartup{err}
					}
				}
			}
		} else if errors.Is(err, ErrConfig) || (first && errors.Is(err, ErrRefused)) {
			return errStartup{err}
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				e.ready.setConn(notReady(first))
			}
			if ctx.Err() != nil {
				return nil
			}
			d := b.next()
			e.log.Warn("broker unavailable; retrying", "error", err.Error(), "retry_in", d.String())
			if !sleep(ctx, d) {
				return nil
			}
			continue
		}
		if first {
			e.log.Info("connected", "endpoint", endpointName(conn))
		} else {
			e.log.Info("reconnected", "endpoint", endpointName(conn))
		}
		if e.metrics != nil {
			e.metrics.setUp(true)
			if !first {
				e.metrics.reconnects.Add(1)
			}
		}
		first = false
		b.reset()
		e.ready.setConn("")
		e.runConn(ctx, conn, runs)
		e.ready.setConn(reasonReconnecting)
		_ = conn.Close()
		if e.metrics != nil {
			e.metrics.setUp(false)
			e.metrics.setBlocked(false) // a new connection starts unblocked
		}
		if ctx.Err() != nil {
			e.failures.Wait()
			return nil
		}
		if hasOtherEndpoints(e.tr, conn) {
			e.log.Warn("connection lost; connecting to another endpoint at once", "endpoint", endpointName(conn))
			lost = conn
			continue
		}
		d := b.next()
		e.log.Warn("connection lost; reconnecting", "endpoint", endpointName(conn), "retry_in", d.String())
		if !sleep(ctx, d) {
			e.failures.Wait()
			return nil
		}
	}
}

// notReady is /readyz's reason while the engine has no connection: before
// the first one, or after one was lost.
func notReady(first bool) string {
	if first {
		return reasonConnecting
	}
	return reasonReconnecting
}

// verify checks that every queue and exchange the nodes use exists.
func (e *engine) verify(ctx context.Context, conn Conn, runs []*nodeRun) error {
	spec := e.g.Spec()
	seenQ := map[string]bool{}
	seenX := map[string]bool{}
	for _, r := range runs {
		queues, exchanges := nodeObjects(spec, r.n)
		for _, q := range queues {
			if seenQ[q] {
				continue
			}
			seenQ[q] = true
			if _, err := conn.CheckQueue(ctx, q); err != nil {
				return e.notFound(err, "queue", q)
			}
		}
		for _, x := range exchanges {
			if seenX[x] {
				continue
			}
			seenX[x] = true
			if err := conn.CheckExchange(ctx, x); err != nil {
				return e.notFound(err, "exchange", x)
			}
		}
	}
	return nil
}

func (e *engine) notFound(err error, what, name string) error {
	if errors.Is(err, ErrNotFound) {
		vhost := e.vhost
		if vhost == "" {
			vhost = e.g.Vhost
		}
		return notFoundError{what: what, name: name, vhost: vhost}
	}
	return err
}

// notFoundError is a queue or exchange missing from the broker.
type notFoundError struct{ what, name, vhost string }

func (e notFoundError) Error() string {
	s := fmt.Sprintf("%s %q not found in vhost %q: run \"dge apply\" first", e.what, e.name, e.vhost)
	if e.what == "queue" {
		s += "; if an apply since renamed or removed it (a moved block, a node removed), this program is older than the graph: run the program generated from the current graph (dge generate) instead"
	}
	return s
}

func (e notFoundError) Unwrap() error { return ErrNotFound }

// nodeObjects lists the queues and exchanges node n uses in the graph's
// topology spec: the queues derived from its edge queue (Q, Q.retry, Q.dead,
// and Q.poll for poll nodes) with the exchanges they are bound to, and its
// destinations with the work exchange it publishes them to.
func nodeObjects(spec topology.Topology, n Node) (queues, exchanges []string) {
	if n.kind != KindStart {
		for _, q := range spec.EdgeQueues(n.in.Queue) {
			queues = append(queues, q.Name)
		}
		for _, b := range spec.Bindings {
			if slices.Contains(queues, b.Queue) && !slices.Contains(exchanges, b.Exchange) {
				exchanges = append(exchanges, b.Exchange)
			}
		}
	}
	if len(n.to) > 0 && !slices.Contains(exchanges, spec.Work) {
		exchanges = append(exchanges, spec.Work)
	}
	return append(queues, n.to...), exchanges
}

// runConn runs every node's sessions on conn until ctx is cancelled or the
// connection is lost. A lost channel is reopened on the same connection.
func (e *engine) runConn(ctx context.Context, conn Conn, runs []*nodeRun) {
	var wg sync.WaitGroup
	if e.queueInterval > 0 {
		wg.Go(func() { e.watchQueues(ctx, conn) })
	}
	for _, r := range runs {
		wg.Go(func() {
			b := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
			for {
				start := time.Now()
				err := r.session(ctx, conn)
				if ctx.Err() != nil {
					return
				}
				if time.Since(start) > time.Minute {
					b.reset()
				}
				d := b.next()
				// A lost connection tells its channels, each on a goroutine
				// of its own, as it tells its own listener: the session
				// may end before conn.Done closes. Wait part of the backoff
				// for it first, so that the connection's loss is not taken
				// for a channel's (and the engine fails over at once).
				grace := min(d, channelLossGrace)
				if connLost(ctx, conn, grace) {
					return
				}
				r.log.Warn("channel lost; reopening", "error", errString(err), "retry_in", (d - grace).String())
				if !sleep(ctx, d-grace) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// channelLossGrace is how long a session whose channel was lost waits to
// see whether its connection was lost with it (see runConn).
const channelLossGrace = 100 * time.Millisecond

// connLost waits up to d for conn to be lost, and reports whether it was
// (or ctx ended).
func connLost(ctx context.Context, conn Conn, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-conn.Done():
		return true
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}

// watchQueues reads the message counts of the nodes' queues on conn at
// once and then every queueInterval, until ctx is cancelled or conn is lost.
func (e *engine) watchQueues(ctx context.Context, conn Conn) {
	t := time.NewTicker(e.queueInterval)
	defer t.Stop()
	for {
		e.metrics.readQueues(ctx, conn, e.log)
		select {
		case <-ctx.Done():
			return
		case <-conn.Done():
			return
		case <-t.C:
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errChannelLost ends a session whose channel closed under it: closed by
// the broker, or by the node itself after the broker refused a publish.
var errChannelLost = errors.New("the channel closed (by the broker, or after it refused a publish)")

// onFailure calls the graph's failure handler in its own goroutine,
// recovering a panic. Its context carries ctx's values (the parking span,
// when traced, so the handler's own spans join the run's trace), not ctx's
// deadline.
func (e *engine) onFailure(ctx context.Context, f Failure) {
	e.g.callOnFailure(ctx, e.log, &e.failures, f)
}

// backoff is exponential backoff with full jitter.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
