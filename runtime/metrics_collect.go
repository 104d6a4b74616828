package runtime

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics endpoint is the Prometheus Go client's: a registry per
// program with the Go and process collectors (go_*, process_*), the
// handler latency histogram, and a collector (metrics' Describe and
// Collect) that reads the runtime's own counters, gauges and queue counts
// when scraped, so that the code counting them touches only atomics.
// Every dge_* series carries the graph's name as its graph label.

// An outcome is what a handler call's return meant for its input: the
// outcome label of dge_handler_duration_seconds.
type outcome int

const (
	outcomeOK      outcome = iota // the handler returned a result
	outcomeRetry                  // it failed (or panicked): the input goes back through Q.retry
	outcomePark                   // it failed permanently, or on the input's last attempt: the input is parked
	outcomePending                // a poll handler said not done: the job goes back through Q.poll
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "retry", "park", "pending"}

// hasOutcome reports whether a handler call of a node of kind k can end
// with o: a fan_out calls no handler, and only a poll's can be pending.
func (k Kind) hasOutcome(o outcome) bool {
	switch {
	case k == KindFanOut:
		return false
	case o == outcomePending:
		return k == KindPoll
	}
	return true
}

// observe records one handler call of took that ended with o.
func (n *nodeMetrics) observe(o outcome, took time.Duration) {
	if h := n.latency[o]; h != nil {
		h.Observe(took.Seconds())
	}
}

// latencyBuckets are the handler latency histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

const latencyHelp = "Handler call latency by outcome, what the handler's return meant for its input: " +
	"ok (it returned a result; the input goes on, or is parked if that result cannot be sent on), " +
	"retry (it returned an error or panicked: the input goes back through the retry queue), " +
	"park (it returned a permanent error, or an error on the input's last attempt: the input is parked), " +
	"pending (a poll handler said not done: the job goes back through the poll queue). " +
	"Failure notices and empty split markers call no handler and are not counted."

// register makes m's registry and the handler serving it.
func (m *metrics) register() {
	m.desc = newMetricsDescs(m.graph)
	m.reg = prometheus.NewRegistry()
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "dge_handler_duration_seconds",
		Help:        latencyHelp,
		Buckets:     latencyBuckets,
		ConstLabels: prometheus.Labels{"graph": m.graph},
	}, []string{"node", "queue", "outcome"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.latency,
		m,
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// ServeHTTP serves the metrics with promhttp: the Prometheus text format,
// OpenMetrics or protobuf, whichever the scraper's Accept header prefers.
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// A nodeFamily is a family with one series per node (of its kinds), read
// from the node's metrics.
type nodeFamily struct {
	name, help string
	typ        prometheus.ValueType
	get        func(*nodeMetrics) int64
	kinds      []Kind // nil: every consuming node
}

// nodeFamilies are the families of nodeFamily, labelled node and queue;
// each is collected only when a node it applies to runs here.
var nodeFamilies = []nodeFamily{
	{"dge_messages_consumed_total", "Messages delivered to the node.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.consumed.Load() }, nil},
	{"dge_messages_acked_total", "Messages acknowledged after their outputs were confirmed.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.acked.Load() }, nil},
	{"dge_messages_retried_total", "Messages rejected for a retry through the retry queue.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.retried.Load() }, nil},
	{"dge_messages_parked_total", "Messages parked in the dead queue.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.parked.Load() }, nil},
	{"dge_publish_returned_total", "Output messages the broker returned as unroutable (no queue bound to their key: the topology changed under the program).", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.returned.Load() }, nil},
	{"dge_messages_published_total", "Output messages published and confirmed.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.published.Load() }, nil},
	{"dge_poll_checks_pending_total", "Poll checks that were not done and went back through the poll queue.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.polled.Load() }, []Kind{KindPoll}},
	{"dge_aggregate_parts_rotated_total", "Aggregate parts re-published to the queue's tail to free the prefetch window.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.rotated.Load() }, []Kind{KindAggregate}},
	{"dge_split_items_total", "Items the split published and the broker confirmed (an empty split counts none).", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.splitItems.Load() }, []Kind{KindSplit}},
	{"dge_gather_splits_open", "Splits the gather's active instance holds open: some of their items are not in yet.", prometheus.GaugeValue, func(n *nodeMetrics) int64 { return n.gatherSplits.Load() }, []Kind{KindGather}},
	{"dge_gather_items_pending", "Items of the open splits not in yet.", prometheus.GaugeValue, func(n *nodeMetrics) int64 { return n.gatherPending.Load() }, []Kind{KindGather}},
	{"dge_gather_duplicates_total", "Items the gather received again (redeliveries, duplicates) and dropped.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.gatherDuplicates.Load() }, []Kind{KindGather}},
	{"dge_gather_checkpoints_total", "Checkpoints of the gather's state published to its state queue.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.gatherCheckpoints.Load() }, []Kind{KindGather}},
	{"dge_failure_notices_total", "Failure notices received: runs that failed upstream, passed on without calling the handler.", prometheus.CounterValue, func(n *nodeMetrics) int64 { return n.notices.Load() }, nil},
	{"dge_messages_in_flight", "Messages being handled now.", prometheus.GaugeValue, func(n *nodeMetrics) int64 { return n.inFlight.Load() }, nil},
	{"dge_prefetch_window", "The node's prefetch window: unacknowledged deliveries it may hold (adapted to its handling and confirm times unless fixed by -prefetch or the edge's prefetch).", prometheus.GaugeValue, func(n *nodeMetrics) int64 { return n.window.Load() }, nil},
}

// The descriptions of the families m's collector writes, with the graph's
// name as a constant label.
type metricsDescs struct {
	build, up, reconnects, blocked, queue, route *prometheus.Desc
	nodes                                        []*prometheus.Desc // nodeFamilies'
}

func newMetricsDescs(graph string) *metricsDescs {
	g := prometheus.Labels{"graph": graph}
	d := &metricsDescs{
		build: prometheus.NewDesc("dge_build_info", "The program's version, the Go version it was built with, and its graph.",
			[]string{"version", "go_version"}, g),
		up:         prometheus.NewDesc("dge_connection_up", "1 while the program holds a connection to the broker with its topology verified, else 0.", nil, g),
		reconnects: prometheus.NewDesc("dge_connection_reconnects_total", "Connections opened after the first one was lost.", nil, g),
		blocked:    prometheus.NewDesc("dge_connection_blocked", "1 while the broker blocks publishing on the program's connection (a resource alarm), else 0.", nil, g),
		queue: prometheus.NewDesc("dge_queue_messages",
			"Messages in the node's queue Q by state: ready in Q, retrying in Q.retry and Q.poll, parked in Q.dead (passive declares, every few seconds).",
			[]string{"node", "queue", "state"}, g),
		route: prometheus.NewDesc("dge_route_messages_total",
			`Messages the route sent down each path, confirmed, by the path's label (when; "*" for the default path). A label no path takes is counted as parked.`,
			[]string{"node", "label"}, g),
	}
	for _, f := range nodeFamilies {
		d.nodes = append(d.nodes, prometheus.NewDesc(f.name, f.help, []string{"node", "queue"}, g))
	}
	return d
}

// Describe sends the description of every family Collect may send.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	d := m.desc
	for _, x := range append([]*prometheus.Desc{d.build, d.up, d.reconnects, d.blocked, d.queue, d.route}, d.nodes...) {
		ch <- x
	}
}

// Collect sends the build info, the connection's state, the queue counts
// read at least once, and the series of every node's families (the
// registry sorts them).
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	d := m.desc
	ch <- prometheus.MustNewConstMetric(d.build, prometheus.GaugeValue, 1, m.version, m.goVersion)
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, float64(m.up.Load()))
	ch <- prometheus.MustNewConstMetric(d.reconnects, prometheus.CounterValue, float64(m.reconnects.Load()))
	ch <- prometheus.MustNewConstMetric(d.blocked, prometheus.GaugeValue, float64(m.blocked.Load()))

	m.mu.Lock()
	queues := slices.Clone(m.queues)
	nodes := make([]*nodeMetrics, 0, len(m.nodes))
	for _, n := range m.nodes {
		nodes = append(nodes, n)
	}
	m.mu.Unlock()
	for _, g := range queues {
		if !g.read.Load() {
			continue
		}
		for st := range numStates {
			ch <- prometheus.MustNewConstMetric(d.queue, prometheus.GaugeValue, float64(g.values[st].Load()), g.node, g.queue, stateNames[st])
		}
	}
	for i, f := range nodeFamilies {
		for _, n := range nodes {
			if f.kinds == nil || slices.Contains(f.kinds, n.kind) {
				ch <- prometheus.MustNewConstMetric(d.nodes[i], f.typ, float64(f.get(n)), n.node, n.queue)
			}
		}
	}
	for _, n := range nodes {
		for l, c := range n.routeTaken { // route nodes only
			ch <- prometheus.MustNewConstMetric(d.route, prometheus.CounterValue, float64(c.Load()), n.node, l)
		}
	}
}
