package runtime

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// metrics holds every node's counters for the Prometheus endpoint.
type metrics struct {
	graph string
	mu    sync.Mutex
	nodes map[string]*nodeMetrics
	// blocked is 1 while the broker blocks publishing on the program's
	// connection (connection.blocked, a resource alarm), else 0.
	blocked atomic.Int64
}

// setBlocked records whether the broker blocks the program's publishers.
func (m *metrics) setBlocked(on bool) {
	var v int64
	if on {
		v = 1
	}
	m.blocked.Store(v)
}

func newMetrics(graph string) *metrics {
	return &metrics{graph: graph, nodes: map[string]*nodeMetrics{}}
}

// nodeMetrics are one node's counters.
type nodeMetrics struct {
	node, queue string
	consumed    atomic.Int64
	acked       atomic.Int64
	retried     atomic.Int64
	parked      atomic.Int64
	published   atomic.Int64
	polled      atomic.Int64
	rotated     atomic.Int64
	inFlight    atomic.Int64
	latency     histogram
}

func (m *metrics) node(addr, queue string) *nodeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[addr]; ok {
		return n
	}
	n := &nodeMetrics{node: addr, queue: queue}
	m.nodes[addr] = n
	return n
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

	counters := []struct {
		name, help string
		get        func(*nodeMetrics) int64
		typ        string
	}{
		{"dge_messages_consumed_total", "Messages delivered to the node.", func(n *nodeMetrics) int64 { return n.consumed.Load() }, "counter"},
		{"dge_messages_acked_total", "Messages acknowledged after their outputs were confirmed.", func(n *nodeMetrics) int64 { return n.acked.Load() }, "counter"},
		{"dge_messages_retried_total", "Messages rejected for a retry through the retry queue.", func(n *nodeMetrics) int64 { return n.retried.Load() }, "counter"},
		{"dge_messages_parked_total", "Messages parked in the dead queue.", func(n *nodeMetrics) int64 { return n.parked.Load() }, "counter"},
		{"dge_messages_published_total", "Output messages published and confirmed.", func(n *nodeMetrics) int64 { return n.published.Load() }, "counter"},
		{"dge_poll_checks_pending_total", "Poll checks that were not done and went back through the poll queue.", func(n *nodeMetrics) int64 { return n.polled.Load() }, "counter"},
		{"dge_aggregate_parts_rotated_total", "Aggregate parts re-published to the queue's tail to free the prefetch window.", func(n *nodeMetrics) int64 { return n.rotated.Load() }, "counter"},
		{"dge_messages_in_flight", "Messages being handled now.", func(n *nodeMetrics) int64 { return n.inFlight.Load() }, "gauge"},
	}
	ew := &errWriter{w: w}
	const b = "dge_connection_blocked"
	ew.printf("# HELP %s 1 while the broker blocks publishing on the program's connection (a resource alarm), else 0.\n# TYPE %s gauge\n%s{graph=%q} %d\n",
		b, b, b, m.graph, m.blocked.Load())
	for _, c := range counters {
		ew.printf("# HELP %s %s\n# TYPE %s %s\n", c.name, c.help, c.name, c.typ)
		for _, n := range nodes {
			ew.printf("%s{%s} %d\n", c.name, m.labels(n), c.get(n))
		}
	}
	const h = "dge_handler_duration_seconds"
	ew.printf("# HELP %s Handler call latency.\n# TYPE %s histogram\n", h, h)
	for _, n := range nodes {
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
