package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/envelope"
)

// The gather node's conformance cases: the same graphs and expectations on
// RabbitMQ and in memory. Items are published straight to the gather's
// queue with their x-dge-split frames, as a split and the nodes after it
// would send them.

// sumFold is the fold of the test graphs: a sum.
func sumFold(_ context.Context, acc, it num) (num, error) { return num{acc.Value + it.Value}, nil }

// digits is the list handler of the test graphs: the items' values as the
// digits of one number, in index order.
func digits(_ context.Context, items []num) (num, error) {
	v := 0
	for _, it := range items {
		v = v*10 + it.Value
	}
	return num{v}, nil
}

// gatherGraph is a gather "sum" (queue sum, over split "numbers") feeding
// terminate "result"; fold or list form.
func gatherGraph(name string, fold bool, timeout time.Duration) Graph {
	e := testEdge("sum")
	var n Node
	if fold {
		n = Fold[num, num]("sum", e, "numbers", timeout, nil, sumFold, "result")
	} else {
		n = Gather[num, num]("sum", e, "numbers", timeout, digits, "result")
	}
	return testGraph(name, n, Terminate[num]("result", testEdge("result")))
}

// item is an item of split id (frames outer, "" for none) of count items.
func item(runID, outer, id string, index, count, value int) Message {
	f := splitFrame{Split: "numbers", ID: id, Index: index, Count: count}.String()
	if outer != "" {
		f = outer + ";" + f
	}
	m := Message{
		MessageID: fmt.Sprintf("%s-item-%d", id, index), RunID: runID, Source: "process.fib", Attempt: 1,
		Headers: map[string]any{HeaderSplit: f},
	}
	if count > 0 {
		m.Body = fmt.Appendf(nil, `{"value":%d}`, value)
	}
	return m
}

// publishItems publishes the items of split id at indexes, value index+1.
func (c *client) publishItems(g Graph, runID, outer, id string, count int, indexes ...int) {
	c.t.Helper()
	ch := c.channel()
	defer ch.Close()
	for _, i := range indexes {
		c.publish(ch, g.WorkExchange, "sum", item(runID, outer, id, i, count, i+1))
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// killable is a Transport whose connections a test can close, as a crash
// of the program holding them would (the broker returns their deliveries).
type killable struct {
	Transport
	mu    sync.Mutex
	conns []Conn
}

func (k *killable) Dial(ctx context.Context, name string) (Conn, error) {
	c, err := k.Transport.Dial(ctx, name)
	if err == nil {
		k.mu.Lock()
		k.conns = append(k.conns, c)
		k.mu.Unlock()
	}
	return c, err
}

// kill closes every connection dialed so far.
func (k *killable) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns {
		_ = c.Close()
	}
	k.conns = nil
}

// runEngine runs the consuming nodes of g on tr in an engine of its own
// until the test ends (or stop is called), and returns its metrics.
func runEngine(t *testing.T, tr Transport, g *Graph, name string) (m *metrics, stop func()) {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("TEST_DGE_LOG") != "" {
		w = os.Stderr
	}
	e := &engine{
		g: g, tr: tr, log: slog.New(slog.NewJSONHandler(w, nil)).With("engine", name), metrics: newMetrics(g.Name),
		shutdownTimeout: 30 * time.Second, connName: t.Name() + " " + name,
	}
	var runs []*nodeRun
	for _, n := range g.Nodes {
		if n.Consumes() {
			runs = append(runs, e.newRun(n, 0, 0))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.run(ctx, runs) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine %s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return e.metrics, stop
}

// gatherMetric returns a node's gather counter.
func gatherNode(m *metrics, addr string) *nodeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[addr]
}

func testGather(t *testing.T, setup transportSetup) {
	t.Run("KillsWithThreeInstances", func(t *testing.T) { t.Parallel(); testGatherKills(t, setup) })
	t.Run("FoldSumWithDuplicates", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gfold", true, time.Hour)
		tr := setup(t, g)
		m := runNodes(t, tr, &g)
		c := dialClient(t, tr)
		const n = 300
		c.publishItems(g, "run1", "", "s1", n, seq(0, 20)...)
		c.publishItems(g, "run1", "", "s1", n, seq(0, n)...) // the first 20 twice
		if got := c.collectNums("result", 1); !slices.Equal(got, []int{n * (n + 1) / 2}) {
			t.Errorf("sum %v, want [%d]", got, n*(n+1)/2)
		}
		c.publishItems(g, "run1", "", "s1", n, 7) // a late duplicate
		waitFor(t, "duplicates counted", func() bool { return gatherNode(m, "gather.sum").gatherDuplicates.Load() == 21 })
		if got := c.conn; got != nil {
			if ready, _ := c.conn.CheckQueue(t.Context(), "result"); ready != 0 {
				t.Errorf("%d more results, want none: a split gathers once", ready)
			}
		}
	})

	t.Run("ListInIndexOrder", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("glist", false, time.Hour)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishItems(g, "run1", "", "s1", 5, 4, 2, 0, 3, 2, 1)
		if got := c.collectNums("result", 1); !slices.Equal(got, []int{12345}) {
			t.Errorf("list result %v, want [12345]: the items in index order, once each", got)
		}
	})

	t.Run("EmptySplit", func(t *testing.T) {
		t.Parallel()
		for _, fold := range []bool{true, false} {
			g := gatherGraph(fmt.Sprint("gempty", fold), fold, time.Hour)
			tr := setup(t, g)
			runNodes(t, tr, &g)
			c := dialClient(t, tr)
			c.publish(c.channel(), g.WorkExchange, "sum", item("run1", "", "s0", 0, 0, 0))
			if got := c.collectNums("result", 1); !slices.Equal(got, []int{0}) {
				t.Errorf("fold %v: empty split gathered to %v, want [0]", fold, got)
			}
		}
	})

	t.Run("NestedKeepsOuterFrame", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gnest", true, time.Hour)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		outer := "docs:D1:2:5"
		c.publishItems(g, "run1", outer, "s1", 3, 0, 1, 2)
		d := c.collect("result", 1)[0]
		if d.Headers[HeaderSplit] != outer || string(d.Body) != `{"value":6}` || d.RunID != "run1" {
			t.Errorf("output %s run %s x-dge-split %v; want {\"value\":6} of run1 with %s", d.Body, d.RunID, d.Headers[HeaderSplit], outer)
		}
	})

	t.Run("OuterEmptySplitPassesOn", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gouterempty", true, time.Hour)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		marker := Message{MessageID: "outer-empty", RunID: "run1", Source: "split.numbers", Attempt: 1,
			Headers: map[string]any{HeaderSplit: "docs:D1:0:0"}}
		c.publish(c.channel(), g.WorkExchange, "sum", marker)
		d := c.collect("result", 1)[0]
		if d.Headers[HeaderSplit] != "docs:D1:0:0" || len(d.Body) != 0 || d.RunID != "run1" {
			t.Errorf("output %q run %s x-dge-split %v; want the outer split's empty marker of run1, unchanged", d.Body, d.RunID, d.Headers[HeaderSplit])
		}
	})

	t.Run("NoticeThenRedrivenItem", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gnotice", true, time.Hour)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishItems(g, "run1", "", "s1", 4, 0, 1, 2)
		notice := item("run1", "", "s1", 3, 4, 0)
		notice.Body = nil
		for k, v := range noticeHeaders(RunFailure{Node: "process.fib", Reason: "permanent", Error: "boom"}) {
			notice.Headers[k] = v
		}
		ch := c.channel()
		c.publish(ch, g.WorkExchange, "sum", notice)
		c.publish(ch, g.WorkExchange, "sum", notice)
		d := c.collect("result", 1)[0]
		if f, ok := noticeOf(d.Message); !ok || f.Node != "process.fib" || d.RunID != "run1" || d.Headers[HeaderSplit] != nil {
			t.Errorf("got %s (headers %v), want one failure notice of run1 from process.fib without x-dge-split", d.Body, d.Headers)
		}
		redriven := item("run1", "", "s1", 3, 4, 4)
		redriven.Headers[HeaderRedriven] = int64(1)
		c.publish(ch, g.WorkExchange, "sum", redriven)
		d = c.collect("result", 1)[0]
		if _, notice := noticeOf(d.Message); notice || string(d.Body) != `{"value":10}` {
			t.Errorf("after the redrive got %s (headers %v), want the sum 10: one notice only, then the output", d.Body, d.Headers)
		}
	})

	t.Run("TimeoutParksStateThenRedrive", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gtimeout", true, time.Second)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishItems(g, "run1", "", "s1", 5, 0, 2, 4)
		p := c.collect("sum.dead", 1)[0]
		if p.Headers[HeaderReason] != string(envelope.IncompleteSplit) || stateKind(p) != stateCheckpoint || p.RunID != "run1" {
			t.Fatalf("parked %s reason %v state %v, want the split's state parked as incomplete-split", p.MessageID, p.Headers[HeaderReason], p.Headers[HeaderState])
		}
		if e, _ := p.Headers[HeaderError].(string); !strings.Contains(e, "have 3 of 5") || !strings.Contains(e, "missing indexes 1, 3") {
			t.Errorf("parked error %q, want it to say have 3 of 5, missing indexes 1, 3", e)
		}
		if d := c.collect("result", 1)[0]; !isNotice(d) {
			t.Errorf("got %s, want the split's failure notice", d.Body)
		}
		// The operator redrives the state and the missing items.
		back := p.Message
		back.Headers[HeaderRedriven] = int64(1)
		ch := c.channel()
		c.publish(ch, g.WorkExchange, "sum", back)
		c.publishItems(g, "run1", "", "s1", 5, 1, 3)
		if got := c.collectNums("result", 1); !slices.Equal(got, []int{15}) {
			t.Errorf("after the redrive: %v, want [15]", got)
		}
	})

	t.Run("StandbyTakesOver", func(t *testing.T) {
		t.Parallel()
		g := gatherGraph("gtakeover", true, time.Hour)
		tr := setup(t, g)
		ka, kb := &killable{Transport: tr}, &killable{Transport: tr}
		mA, _ := runEngine(t, ka, &g, "a")
		c := dialClient(t, tr)
		const n = 4000
		c.publishItems(g, "run1", "", "s1", n, 0)
		active := func(m *metrics) bool { return gatherNode(m, "gather.sum").gatherCheckpoints.Load() > 0 }
		waitFor(t, "the first instance active", func() bool { return active(mA) })
		mB, _ := runEngine(t, kb, &g, "b")
		time.Sleep(200 * time.Millisecond) // b registers its consumer of Q.state
		c.publishItems(g, "run1", "", "s1", n, seq(1, n/2)...)
		ka.kill() // mid-fold: items in flight, some not yet checkpointed
		c.publishItems(g, "run1", "", "s1", n, seq(n/2, n)...)
		if got := c.collectNums("result", 1); !slices.Equal(got, []int{n * (n + 1) / 2}) {
			t.Errorf("sum %v, want [%d]", got, n*(n+1)/2)
		}
		if !active(mB) {
			t.Error("the standby wrote no checkpoint: it never took over")
		}
	})

	t.Run("CrashesBetweenCheckpoints", func(t *testing.T) {
		t.Parallel()
		// Each kill redelivers the items in the window, and a session
		// killed before its first checkpoint is confirmed (it lives from
		// its reconnect to the next kill: a few milliseconds on a loaded
		// machine) held the same items at the head of the queue as the
		// one before it. So an item can be redelivered once per kill, and
		// the runtime parks a message crashThreshold redeliveries in as a
		// crash loop, failing its split (see admit): the edge's delivery
		// limit must put that threshold past the number of kills.
		const kills = 6
		g := gatherGraph("gcrash", true, time.Hour)
		g.Nodes[0].in.MaxAttempts = kills + 2
		if crashThreshold(g.DeliveryLimit()) <= kills {
			t.Fatalf("delivery limit %d: %d kills can park an item", g.DeliveryLimit(), kills)
		}
		tr := setup(t, g)
		k := &killable{Transport: tr}
		m, _ := runEngine(t, k, &g, "a")
		c := dialClient(t, tr)
		const splits, n = 4, 500
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range kills {
				time.Sleep(150 * time.Millisecond)
				k.kill()
			}
		}()
		for s := range splits {
			c.publishItems(g, fmt.Sprint("run", s), "", fmt.Sprint("s", s), n, seq(0, n)...)
		}
		<-done
		got := c.collectNums("result", splits)
		want := slices.Repeat([]int{n * (n + 1) / 2}, splits)
		if !slices.Equal(got, want) {
			t.Errorf("sums %v, want %v: every item folded exactly once", got, want)
		}
		if m.reconnects.Load() == 0 {
			t.Error("the engine never reconnected: no crash was simulated")
		}
		if n, _ := c.conn.CheckQueue(t.Context(), "sum.dead"); n != 0 {
			t.Errorf("%d parked, want none", n)
		}
		t.Logf("%d reconnects, %d duplicates dropped", m.reconnects.Load(), gatherNode(m, "gather.sum").gatherDuplicates.Load())
	})
}

// testGatherKills folds splits on three gather instances while one of
// them, at random, loses its connection every 200 ms: every sum must be
// exact.
//
// Each kill redelivers the items in the killed instance's window, raising
// their delivery count, and the runtime parks a message one redelivery
// short of the delivery limit as a crash loop (see admit): the edge allows
// more attempts than the other cases so that a burst of kills this dense
// does not reach it.
func testGatherKills(t *testing.T, setup transportSetup) {
	g := gatherGraph("gkills", true, time.Hour)
	g.Nodes[0].in.MaxAttempts = 20
	tr := setup(t, g)
	var ks []*killable
	var ms []*metrics
	for i := range 3 {
		k := &killable{Transport: tr}
		m, _ := runEngine(t, k, &g, fmt.Sprint("i", i))
		ks, ms = append(ks, k), append(ms, m)
	}
	c := dialClient(t, tr)
	const splits, n = 10, 400
	stop := make(chan struct{})
	killed := make(chan int)
	go func() {
		kills := 0
		defer func() { killed <- kills }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			ks[(i*7)%3].kill()
			kills++
		}
	}()
	for s := range splits {
		c.publishItems(g, fmt.Sprint("run", s), "", fmt.Sprint("s", s), n, seq(0, n)...)
		ks[s%3].kill() // also between splits, for a broker as fast as the memory one
	}
	got := c.collectNums("result", splits)
	close(stop)
	kills := <-killed + splits
	want := slices.Repeat([]int{n * (n + 1) / 2}, splits)
	if !slices.Equal(got, want) {
		t.Errorf("sums %v, want %v: every item folded exactly once", got, want)
	}
	dups := int64(0)
	for _, m := range ms {
		dups += gatherNode(m, "gather.sum").gatherDuplicates.Load()
	}
	t.Logf("%d kills, %d duplicates dropped", kills, dups)
	if n, _ := c.conn.CheckQueue(t.Context(), "sum.dead"); n != 0 {
		t.Errorf("%d parked, want none", n)
	}
}

func isNotice(d Delivery) bool { _, ok := noticeOf(d.Message); return ok }

// waitFor polls cond until it holds, failing the test after confDeadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(confDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", confDeadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
