package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// RunOptions configures RunNodes.
type RunOptions struct {
	// Transport connects to the broker: an AMQP, or a LocalBroker. With
	// an AMQP, RunNodes also logs when the broker blocks publishers (a
	// resource alarm) and shows it in the metrics.
	Transport Transport
	// ConnectionName names the connection, as the broker shows it; ""
	// means the graph's name.
	ConnectionName string
	// Logger receives the runtime's lines; nil means slog.Default(). See
	// NewLogHandler for a handler that adds a handler call's attributes.
	Logger *slog.Logger
	// TracerProvider traces every message the nodes handle (see the
	// package documentation, Tracing); nil turns tracing off.
	TracerProvider trace.TracerProvider
	// Prefetch fixes each node's window of unacknowledged deliveries; 0
	// means the edge's prefetch, else a window that adapts.
	Prefetch int
	// Concurrency is each node's number of handler calls in flight; 0
	// means the edge's concurrency, else 1.
	Concurrency int
	// ShutdownTimeout bounds how long the messages in flight may take to
	// finish once ctx is cancelled; 0 means 30s, and a negative value no
	// time at all (the unfinished ones are delivered again, to another
	// consumer or on the next start).
	ShutdownTimeout time.Duration
	// MetricsAddr, when set, is the host:port where RunNodes serves, while
	// it runs, Prometheus metrics at /metrics and two probes: /healthz
	// answers 200 "ok" (the process runs), and /readyz 200 "ready" while
	// the connection is up with the topology verified and every node
	// consumes on it, else 503 with the reason ("connecting",
	// "reconnecting", "topology not verified: ...", a node not consuming,
	// or "stopping" once ctx is cancelled).
	MetricsAddr string
}

// defaultShutdownTimeout is RunOptions.ShutdownTimeout's default.
const defaultShutdownTimeout = 30 * time.Second

// queueReadInterval is how often a node serving metrics reads its queues'
// message counts.
const queueReadInterval = 5 * time.Second

// RunNodes runs nodes, consuming nodes of g (process, fan_out, aggregate or
// poll: see Node.Consumes), on one connection until ctx is cancelled; then
// it lets the messages in flight finish, for at most ShutdownTimeout, and
// returns nil. A lost connection is dialled again (at once to another
// endpoint of a cluster, else after a backoff), and a lost channel
// reopened, for as long as ctx lasts.
//
// It returns an error, having consumed nothing, when a node does not
// consume, when the metrics address cannot be listened on, when the
// transport's configuration is invalid (the error wraps ErrConfig), or when
// the first connection is refused (ErrRefused) or finds a queue or exchange
// missing (ErrNotFound: dge apply creates them). A missing object's error
// names g.Vhost.
func RunNodes(ctx context.Context, g Graph, nodes []Node, opts RunOptions) error {
	if err := g.Check(); err != nil {
		return fmt.Errorf("invalid graph: %w", err)
	}
	for _, n := range nodes {
		if !n.Consumes() {
			return fmt.Errorf("%s does not run as a process", n.Addr())
		}
	}
	if opts.Prefetch < 0 || opts.Concurrency < 0 {
		return errors.New("RunOptions: Prefetch and Concurrency must not be negative")
	}
	e := newEngine(&g, opts)
	if opts.MetricsAddr != "" {
		ln, err := net.Listen("tcp", opts.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", opts.MetricsAddr, err)
		}
		e.ready = newReadiness()
		srv := &http.Server{Handler: probeMux(e.metrics, e.ready), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		e.queueInterval = queueReadInterval
		e.log.Info("serving metrics and probes", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	}
	runs := make([]*nodeRun, len(nodes))
	for i, n := range nodes {
		runs[i] = e.newRun(n, opts.Prefetch, opts.Concurrency)
	}
	if a, ok := e.tr.(AMQP); ok {
		if eps, err := a.endpoints(); err == nil {
			e.log.Info("starting", "nodes", len(runs), "broker", eps.String())
		}
	}
	err := e.run(ctx, runs)
	var se errStartup
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// newEngine returns the engine RunNodes runs g's nodes in.
func newEngine(g *Graph, opts RunOptions) *engine {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(g.Name)
	tr := opts.Transport
	if a, ok := tr.(AMQP); ok {
		a.onBlocked = blockedNotice(log, m)
		tr = a
	}
	name := opts.ConnectionName
	if name == "" {
		name = g.Name
	}
	timeout := opts.ShutdownTimeout
	switch {
	case timeout == 0:
		timeout = defaultShutdownTimeout
	case timeout < 0:
		timeout = 0
	}
	return &engine{
		g:               g,
		tr:              tr,
		log:             log,
		metrics:         m,
		shutdownTimeout: timeout,
		connName:        name,
		tracer:          newTracer(opts.TracerProvider),
	}
}

// VerifyTopology checks, on conn, that every queue and exchange nodes use
// exists: their own queues (Q, Q.retry, Q.dead and, for a poll node,
// Q.poll) and the exchanges bound to them, and the queues they publish to
// with the work exchange. A missing one is an error wrapping ErrNotFound
// that names it and g.Vhost and says to run dge apply; any other error is
// the broker's or the connection's. It changes nothing on the broker.
func VerifyTopology(ctx context.Context, conn Conn, g Graph, nodes ...Node) error {
	runs := make([]*nodeRun, len(nodes))
	for i, n := range nodes {
		runs[i] = &nodeRun{n: n}
	}
	e := &engine{g: &g}
	return e.verify(ctx, conn, runs)
}

// NewLogHandler returns a handler that writes through h and adds, to a
// line logged with a handler call's context (slog.InfoContext(ctx, ...) in
// the handler), the call's node, run_id, message_id and attempt, and to a
// line logged with a traced context its trace_id and span_id. Give
// RunOptions.Logger and slog's default logger one, so that a handler's
// lines can be traced to the message it handled.
func NewLogHandler(h slog.Handler) slog.Handler {
	return contextHandler{h: h}
}

// EndpointName returns the URL, password redacted, of the broker node conn
// is connected to; "" when conn is not an AMQP connection.
func EndpointName(conn Conn) string { return endpointName(conn) }
