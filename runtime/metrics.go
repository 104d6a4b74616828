package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgehq/dge/topology"
)

// Metrics exposition: the Prometheus text format is written by hand here
// rather than with the Prometheus Go client library. The library would add
// about 3.9 MB to every generated program (examples/arith's binary grows
// from 10.7 MB to 14.6 MB with its registry, Go and process collectors and
// promhttp, client_golang v1.25.0) and a dozen modules (protobuf among them)
// to every generated go.mod, for a format this file writes in a page.

// metrics holds every node's counters for the Prometheus endpoint, the exact
// message counts of the nodes' queues, and the connection's state.
type metrics struct {
	graph string
	mu    sync.Mutex
	nodes map[string]*nodeMetrics
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
	latency     histogram

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

// latencyBuckets are the handler latency histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// histogram is a Prometheus histogram of durations.
type histogram struct {
	counts [16]atomic.Int64 // len(latencyBuckets)+1: the last is +Inf
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, s)
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// ServeHTTP writes the metrics in the Prometheus text exposition format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = m.write(w)
}

func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	nodes := make([]*nodeMetrics, 0, len(m.nodes))
	for _, n := range m.nodes {
		nodes = append(nodes, n)
	}
	m.mu.Unlock()
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].node < nodes[j].node })

	// Each family is written only when a node it applies to runs here
	// (kinds nil: every consuming node).
	counters := []struct {
		name, help string
		get        func(*nodeMetrics) int64
		typ        string
		kinds      []Kind
	}{
		{"dge_messages_consumed_total", "Messages delivered to the node.", func(n *nodeMetrics) int64 { return n.consumed.Load() }, "counter", nil},
		{"dge_messages_acked_total", "Messages acknowledged after their outputs were confirmed.", func(n *nodeMetrics) int64 { return n.acked.Load() }, "counter", nil},
		{"dge_messages_retried_total", "Messages rejected for a retry through the retry queue.", func(n *nodeMetrics) int64 { return n.retried.Load() }, "counter", nil},
		{"dge_messages_parked_total", "Messages parked in the dead queue.", func(n *nodeMetrics) int64 { return n.parked.Load() }, "counter", nil},
		{"dge_publish_returned_total", "Output messages the broker returned as unroutable (no queue bound to their key: the topology changed under the program).", func(n *nodeMetrics) int64 { return n.returned.Load() }, "counter", nil},
		{"dge_messages_published_total", "Output messages published and confirmed.", func(n *nodeMetrics) int64 { return n.published.Load() }, "counter", nil},
		{"dge_poll_checks_pending_total", "Poll checks that were not done and went back through the poll queue.", func(n *nodeMetrics) int64 { return n.polled.Load() }, "counter", []Kind{KindPoll}},
		{"dge_aggregate_parts_rotated_total", "Aggregate parts re-published to the queue's tail to free the prefetch window.", func(n *nodeMetrics) int64 { return n.rotated.Load() }, "counter", []Kind{KindAggregate}},
		{"dge_split_items_total", "Items the split published and the broker confirmed (an empty split counts none).", func(n *nodeMetrics) int64 { return n.splitItems.Load() }, "counter", []Kind{KindSplit}},
		{"dge_gather_splits_open", "Splits the gather's active instance holds open: some of their items are not in yet.", func(n *nodeMetrics) int64 { return n.gatherSplits.Load() }, "gauge", []Kind{KindGather}},
		{"dge_gather_items_pending", "Items of the open splits not in yet.", func(n *nodeMetrics) int64 { return n.gatherPending.Load() }, "gauge", []Kind{KindGather}},
		{"dge_gather_duplicates_total", "Items the gather received again (redeliveries, duplicates) and dropped.", func(n *nodeMetrics) int64 { return n.gatherDuplicates.Load() }, "counter", []Kind{KindGather}},
		{"dge_gather_checkpoints_total", "Checkpoints of the gather's state published to its state queue.", func(n *nodeMetrics) int64 { return n.gatherCheckpoints.Load() }, "counter", []Kind{KindGather}},
		{"dge_failure_notices_total", "Failure notices received: runs that failed upstream, passed on without calling the handler.", func(n *nodeMetrics) int64 { return n.notices.Load() }, "counter", nil},
		{"dge_messages_in_flight", "Messages being handled now.", func(n *nodeMetrics) int64 { return n.inFlight.Load() }, "gauge", nil},
		{"dge_prefetch_window", "The node's prefetch window: unacknowledged deliveries it may hold (adapted to its handling and confirm times unless fixed by -prefetch or the edge's prefetch).", func(n *nodeMetrics) int64 { return n.window.Load() }, "gauge", nil},
	}
	ew := &errWriter{w: w}
	gauge := func(name, help string, v int64) {
		ew.printf("# HELP %s %s\n# TYPE %s gauge\n%s{graph=%q} %d\n", name, help, name, name, m.graph, v)
	}
	const bi = "dge_build_info"
	ew.printf("# HELP %s The program's version, the Go version it was built with, and its graph.\n# TYPE %s gauge\n%s{graph=%q,version=%q,go_version=%q} 1\n",
		bi, bi, bi, m.graph, m.version, m.goVersion)
	gauge("dge_connection_up", "1 while the program holds a connection to the broker with its topology verified, else 0.", m.up.Load())
	const rc = "dge_connection_reconnects_total"
	ew.printf("# HELP %s Connections opened after the first one was lost.\n# TYPE %s counter\n%s{graph=%q} %d\n", rc, rc, rc, m.graph, m.reconnects.Load())
	gauge("dge_connection_blocked", "1 while the broker blocks publishing on the program's connection (a resource alarm), else 0.", m.blocked.Load())

	m.mu.Lock()
	queues := slices.Clone(m.queues)
	m.mu.Unlock()
	const qm = "dge_queue_messages"
	wroteQM := false
	for _, g := range queues {
		if !g.read.Load() {
			continue
		}
		if !wroteQM {
			ew.printf("# HELP %s Messages in the node's queue Q by state: ready in Q, retrying in Q.retry and Q.poll, parked in Q.dead (passive declares, every few seconds).\n# TYPE %s gauge\n", qm, qm)
			wroteQM = true
		}
		for st := range numStates {
			ew.printf("%s{graph=%q,node=%q,queue=%q,state=%q} %d\n", qm, m.graph, g.node, g.queue, stateNames[st], g.values[st].Load())
		}
	}

	for _, c := range counters {
		wrote := false
		for _, n := range nodes {
			if c.kinds != nil && !slices.Contains(c.kinds, n.kind) {
				continue
			}
			if !wrote {
				ew.printf("# HELP %s %s\n# TYPE %s %s\n", c.name, c.help, c.name, c.typ)
				wrote = true
			}
			ew.printf("%s{%s} %d\n", c.name, m.labels(n), c.get(n))
		}
	}
	m.writeRoutes(ew, nodes)
	const h = "dge_handler_duration_seconds"
	wroteH := false
	for _, n := range nodes {
		if n.kind == KindFanOut { // no handler: it forwards its input
			continue
		}
		if !wroteH {
			ew.printf("# HELP %s Handler call latency.\n# TYPE %s histogram\n", h, h)
			wroteH = true
		}
		var cum int64
		for i := range len(latencyBuckets) + 1 {
			cum += n.latency.counts[i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			ew.printf("%s_bucket{%s,le=%q} %d\n", h, m.labels(n), le, cum)
		}
		sum := float64(n.latency.sumNs.Load()) / float64(time.Second)
		if math.IsNaN(sum) {
			sum = 0
		}
		ew.printf("%s_sum{%s} %s\n%s_count{%s} %d\n", h, m.labels(n), strconv.FormatFloat(sum, 'g', -1, 64), h, m.labels(n), cum)
	}
	return ew.err
}

// writeRoutes writes dge_route_messages_total, one series per path of
// every route node of nodes (nothing when there is none).
func (m *metrics) writeRoutes(ew *errWriter, nodes []*nodeMetrics) {
	const name = "dge_route_messages_total"
	wrote := false
	for _, n := range nodes {
		if n.kind != KindRoute {
			continue
		}
		if !wrote {
			ew.printf("# HELP %s Messages the route sent down each path, confirmed, by the path's label (when; \"*\" for the default path). A label no path takes is counted as parked.\n# TYPE %s counter\n", name, name)
			wrote = true
		}
		labels := make([]string, 0, len(n.routeTaken))
		for l := range n.routeTaken {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		for _, l := range labels {
			ew.printf("%s{graph=%q,node=%q,label=\"%s\"} %d\n", name, m.graph, n.node, labelValue.Replace(l), n.routeTaken[l].Load())
		}
	}
}

// labelValue escapes a label value of the text format (a path's label is
// any string HCL allows: Go's %q would write escapes Prometheus does not
// read).
var labelValue = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func (m *metrics) labels(n *nodeMetrics) string {
	return fmt.Sprintf("graph=%q,node=%q,queue=%q", m.graph, n.node, n.queue)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
