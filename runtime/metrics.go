package runtime

import (
	"context"
	"log/slog"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dgehq/dge/topology"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds every node's counters for the Prometheus endpoint, the exact
// message counts of the nodes' queues, and the connection's state. Its
// collector (metrics_collect.go) reads them when the endpoint is scraped.
type metrics struct {
	graph string
	// reg is the program's registry: the Go and process collectors, the
	// handler latency histogram and the collector of everything below.
	reg *prometheus.Registry
	// handler serves reg with promhttp (content negotiation: the text
	// format, OpenMetrics or protobuf, gzip when accepted).
	handler http.Handler
	// latency is dge_handler_duration_seconds; each node's observers are
	// in its nodeMetrics.
	latency *prometheus.HistogramVec
	desc    *metricsDescs
	mu      sync.Mutex
	nodes   map[string]*nodeMetrics
	// queues are the nodes' edge queues whose counts watchQueues reads;
	// none unless the program serves metrics.
	queues []*queueGauges
	// blocked is 1 while the broker blocks publishing on the program's
	// connection (connection.blocked, a resource alarm), else 0.
	blocked atomic.Int64
	// up is 1 while the program holds a verified connection, else 0.
	up atomic.Int64
	// reconnects counts the connections opened after the first.
	reconnects atomic.Int64
	// version and goVersion label dge_build_info.
	version, goVersion string
}

// setBlocked records whether the broker blocks the program's publishers.
func (m *metrics) setBlocked(on bool) { m.blocked.Store(boolGauge(on)) }

// setUp records whether the program holds a verified connection.
func (m *metrics) setUp(on bool) { m.up.Store(boolGauge(on)) }

func boolGauge(on bool) int64 {
	if on {
		return 1
	}
	return 0
}

func newMetrics(graph string) *metrics {
	m := &metrics{graph: graph, nodes: map[string]*nodeMetrics{}, version: "(devel)", goVersion: goruntime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		m.version = bi.Main.Version
	}
	m.register()
	return m
}

// nodeMetrics are one node's counters.
type nodeMetrics struct {
	node, queue string
	kind        Kind
	consumed    atomic.Int64
	acked       atomic.Int64
	retried     atomic.Int64
	parked      atomic.Int64
	published   atomic.Int64
	polled      atomic.Int64
	rotated     atomic.Int64
	returned    atomic.Int64 // outputs the broker returned as unroutable
	notices     atomic.Int64
	inFlight    atomic.Int64
	window      atomic.Int64 // the prefetch window of its newest session
	// latency observes the node's handler calls by outcome; nil for an
	// outcome the node's kind never has (every one for a fan_out).
	latency [numOutcomes]prometheus.Observer

	// Gather nodes only.
	gatherSplits      atomic.Int64 // open splits of the active instance
	gatherPending     atomic.Int64 // items of those splits not yet in
	gatherDuplicates  atomic.Int64 // deliveries that brought nothing new
	gatherCheckpoints atomic.Int64 // checkpoints published to Q.state
	splitItems        atomic.Int64 // items a split published, confirmed

	// Route nodes only: the messages sent down each path, confirmed, by
	// the path's label (routeDefault for the default path). Its keys are
	// set when the node's metrics are made and never change.
	routeTaken map[string]*atomic.Int64
}

// gatherOpen adds splits open splits with pending items not yet in (both
// negative when splits close).
func (n *nodeMetrics) gatherOpen(splits, pending int) {
	n.gatherSplits.Add(int64(splits))
	n.gatherPending.Add(int64(pending))
}

func (m *metrics) node(n Node) *nodeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	addr := n.Addr()
	if nm, ok := m.nodes[addr]; ok {
		return nm
	}
	nm := &nodeMetrics{node: addr, queue: n.in.Queue, kind: n.kind}
	for o := range numOutcomes {
		if n.kind.hasOutcome(o) {
			nm.latency[o] = m.latency.WithLabelValues(addr, n.in.Queue, outcomeNames[o])
		}
	}
	if n.kind == KindRoute {
		nm.routeTaken = map[string]*atomic.Int64{}
		for _, l := range n.routeLabels() {
			nm.routeTaken[l] = new(atomic.Int64)
		}
	}
	m.nodes[addr] = nm
	return nm
}

// The states of dge_queue_messages.
const (
	stateReady    = iota // in Q, waiting for a consumer
	stateRetrying        // in Q.retry (and Q.poll): waiting to come back to Q
	stateParked          // in Q.dead
	numStates
)

var stateNames = [numStates]string{"ready", "retrying", "parked"}

// queueGauges are the message counts of one node's edge queue Q, by state,
// each the sum of the ready counts of the queues derived from Q with that
// state. They are read with passive declares: exact, unlike the management
// API's statistics, which lag by their collection interval.
type queueGauges struct {
	node, queue string
	sources     [numStates][]string
	values      [numStates]atomic.Int64
	read        atomic.Bool // the counts were read at least once
}

// addQueues registers the edge queues of the nodes in runs, with the queues
// spec derives from each, for watchQueues.
func (m *metrics) addQueues(spec topology.Topology, runs []*nodeRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range runs {
		if slices.ContainsFunc(m.queues, func(g *queueGauges) bool { return g.queue == r.n.in.Queue }) {
			continue
		}
		g := &queueGauges{node: r.addr, queue: r.n.in.Queue}
		for _, q := range spec.EdgeQueues(r.n.in.Queue) {
			st := stateReady
			switch q.Role {
			case topology.RoleRetry, topology.RolePoll:
				st = stateRetrying
			case topology.RoleDead:
				st = stateParked
			}
			g.sources[st] = append(g.sources[st], q.Name)
		}
		m.queues = append(m.queues, g)
	}
}

// readQueues reads every registered queue's counts on conn. A queue whose
// counts cannot all be read keeps its previous values.
func (m *metrics) readQueues(ctx context.Context, conn Conn, log *slog.Logger) {
	m.mu.Lock()
	queues := slices.Clone(m.queues)
	m.mu.Unlock()
	for _, g := range queues {
		var vals [numStates]int64
		var err error
		for st, names := range g.sources {
			for _, name := range names {
				var n int
				if n, err = conn.CheckQueue(ctx, name); err != nil {
					break
				}
				vals[st] += int64(n)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("could not read queue counts for metrics", "queue", g.queue, "error", err.Error())
			}
			continue
		}
		for st := range vals {
			g.values[st].Store(vals[st])
		}
		g.read.Store(true)
	}
}
