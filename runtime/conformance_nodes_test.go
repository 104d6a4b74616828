package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runNodes runs every consuming node of g on tr, in one engine, until the
// test ends, and returns the engine's metrics.
func runNodes(t *testing.T, tr Transport, g *Graph) *metrics {
	t.Helper()
	return runNodesPrefetch(t, tr, g, 0)
}

// runNodesPrefetch is runNodes with every node's prefetch fixed (0: the
// node's own).
func runNodesPrefetch(t *testing.T, tr Transport, g *Graph, prefetch int) *metrics {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("TEST_DGE_LOG") != "" {
		w = os.Stderr
	}
	e := &engine{
		g: g, tr: tr, log: slog.New(slog.NewJSONHandler(w, nil)), metrics: newMetrics(g.Name),
		shutdownTimeout: 30 * time.Second, connName: t.Name() + " runtime",
	}
	var runs []*nodeRun
	for _, n := range g.Nodes {
		if n.Consumes() {
			runs = append(runs, e.newRun(n, prefetch, 0))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.run(ctx, runs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return e.metrics
}

// publishRun publishes body as a new run from start node start, as the
// publish command does, and returns the run ID.
func (c *client) publishRun(ch Channel, g Graph, start string, body []byte) string {
	c.t.Helper()
	n, ok := g.Node(start)
	if !ok || n.kind != KindStart {
		c.t.Fatalf("%s is not a start node", start)
	}
	runID := newRunID()
	for _, to := range n.to {
		c.publish(ch, g.WorkExchange, to, Message{
			Body: body, MessageID: deriveID(runID, nil, n.Addr(), to), RunID: runID, Source: n.Addr(), Attempt: 1,
		})
	}
	return runID
}

func (c *client) publishNums(g Graph, start string, values ...int) {
	c.t.Helper()
	ch := c.channel()
	for _, v := range values {
		c.publishRun(ch, g, start, fmt.Appendf(nil, `{"value":%d}`, v))
	}
	ch.Close()
}

// collect takes n messages from queue, acking each.
func (c *client) collect(queue string, n int) []Delivery {
	c.t.Helper()
	ch, ds := c.consume(queue, n)
	defer ch.Close()
	var got []Delivery
	for range n {
		d := next(c.t, ds)
		if err := ch.Ack(d.Tag, false); err != nil {
			c.t.Fatalf("ack: %v", err)
		}
		got = append(got, d)
	}
	return got
}

// collectNums takes n results from queue and returns their values, sorted.
// A failure notice among them fails the test, saying what failed.
func (c *client) collectNums(queue string, n int) []int {
	c.t.Helper()
	var vs []int
	for _, d := range c.collect(queue, n) {
		if f, ok := noticeOf(d.Message); ok {
			c.t.Fatalf("a failure notice instead of a result, of run %s: node %s, reason %s: %s", d.RunID, f.Node, f.Reason, f.Error)
		}
		var v num
		if err := json.Unmarshal(d.Body, &v); err != nil {
			c.t.Fatalf("result %q: %v", d.Body, err)
		}
		vs = append(vs, v.Value)
	}
	slices.Sort(vs)
	return vs
}

// testNodes runs node behaviours on a transport: the same graphs, handlers
// and expectations for every implementation.
func testNodes(t *testing.T, setup transportSetup) {
	t.Run("ProcessRetryThenSuccess", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		calls := map[int]int{}
		g := chainGraph("retry", func(ctx context.Context, n num) (num, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[n.Value]++
			if calls[n.Value] <= 2 {
				return num{}, fmt.Errorf("transient failure %d", calls[n.Value])
			}
			return num{n.Value * 2}, nil
		})
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishNums(g, "start", 1, 2, 3, 4, 5)
		if got := c.collectNums("result", 5); !slices.Equal(got, []int{2, 4, 6, 8, 10}) {
			t.Errorf("results %v, want [2 4 6 8 10]", got)
		}
		mu.Lock()
		defer mu.Unlock()
		for v, n := range calls {
			if n != 3 {
				t.Errorf("value %d: handler called %d times, want 3", v, n)
			}
		}
	})

	t.Run("Parking", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		var failures sync.Map
		g := chainGraph("park", func(ctx context.Context, n num) (num, error) {
			calls.Add(1)
			switch n.Value {
			case 1:
				return num{}, Permanent(errors.New("value 1 is not allowed"))
			case 3:
				return num{}, errors.New("always fails")
			}
			return num{n.Value * 2}, nil
		})
		var onFailure sync.WaitGroup
		onFailure.Add(3)
		g.OnFailure = func(_ context.Context, f Failure) {
			if _, dup := failures.LoadOrStore(f.Reason, f); dup {
				t.Errorf("OnFailure called twice for reason %s", f.Reason)
			}
			onFailure.Done()
		}
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishNums(g, "start", 1, 3, 4)
		c.publish(c.channel(), g.WorkExchange, "input", Message{Body: []byte(`{"value": nope}`), MessageID: "malformed", RunID: "r", Source: "start.start", Attempt: 1})
		// One result, and one failure record per parked run.
		var got []int
		failed := map[string]RunFailure{}
		for _, d := range c.collect("result", 4) {
			if f, ok := noticeOf(d.Message); ok {
				failed[f.Reason] = f
				continue
			}
			var v num
			if err := json.Unmarshal(d.Body, &v); err != nil {
				t.Fatalf("result %q: %v", d.Body, err)
			}
			got = append(got, v.Value)
		}
		if !slices.Equal(got, []int{8}) {
			t.Errorf("results %v, want [8]", got)
		}
		for _, reason := range []string{"permanent", "max-attempts", "decode"} {
			if f, ok := failed[reason]; !ok || f.Node != "process.double" || f.Error == "" {
				t.Errorf("failure record for reason %s: %+v (found %v), want one from process.double with the error", reason, f, ok)
			}
		}
		dead := map[string]Delivery{}
		for _, d := range c.collect("input.dead", 3) {
			dead[fmt.Sprint(d.Headers[HeaderReason])] = d
		}
		for reason, attempt := range map[string]int{"permanent": 1, "max-attempts": 3, "decode": 1} {
			d, ok := dead[reason]
			if !ok {
				t.Errorf("nothing parked with reason %s; got %v", reason, keys(dead))
				continue
			}
			if d.Attempt != attempt || d.Headers[HeaderNode] != "process.double" || d.Headers[HeaderError] == "" {
				t.Errorf("%s: attempt %d node %v error %q; want attempt %d, process.double and the error", reason, d.Attempt, d.Headers[HeaderNode], d.Headers[HeaderError], attempt)
			}
		}
		waitGroup(t, &onFailure, "OnFailure calls")
		if n := calls.Load(); n != 5 {
			t.Errorf("handler called %d times, want 5 (1 permanent, 3 for the failing value, 1 success)", n)
		}
	})

	t.Run("CrashLoopParks", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := chainGraph("crash", func(ctx context.Context, n num) (num, error) {
			calls.Add(1)
			return n, nil
		})
		limit := g.DeliveryLimit()
		tr := setup(t, g)
		c := dialClient(t, tr)
		c.publish(c.channel(), g.WorkExchange, "input", Message{Body: []byte(`{"value":1}`), MessageID: "m1", RunID: "r1", Source: "start.start", Attempt: 1})
		// Consumers that die holding it, as a crashing handler's process
		// would, until one redelivery is left before the delivery-limit.
		for i := 0; i < crashThreshold(limit); i++ {
			ch, ds := c.consume("input", 1)
			next(t, ds)
			ch.Close()
		}
		runNodes(t, tr, &g)
		d := c.collect("input.dead", 1)[0]
		if d.MessageID != "m1" || d.Headers[HeaderReason] != "delivery-limit" {
			t.Errorf("parked %s with reason %v, want m1 with delivery-limit", d.MessageID, d.Headers[HeaderReason])
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("handler called %d times, want 0: a crash-looping message is parked before its handler runs again", n)
		}
	})

	t.Run("AggregateJoin", func(t *testing.T) {
		t.Parallel()
		g := joinGraph("join", time.Minute)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		values := make([]int, 50)
		for i := range values {
			values[i] = i
		}
		c.publishNums(g, "start", values...)
		got := c.collectNums("result", len(values))
		for i, v := range got {
			if want := (i+1)*100000 + i*10; v != want {
				t.Fatalf("result %d = %d, want %d", i, v, want)
			}
		}
	})

	t.Run("AggregateFullWindowProgresses", func(t *testing.T) {
		t.Parallel()
		// Three inputs, a window of four parts, and every part of one
		// input ahead of its partners in the queue: the window fills with
		// one-part groups, and each partner that arrives must join its
		// group rather than be rotated away as the newest part.
		g := testGraph("join3",
			Start[num]("start", "join"),
			Aggregate[num, num]("join", testEdge("join"), []string{"process.a", "process.b", "process.c"}, 10*time.Minute,
				func(_ context.Context, parts []num) (num, error) {
					return num{parts[0].Value*10000 + parts[1].Value*100 + parts[2].Value}, nil
				}, "result"),
			Terminate[num]("result", testEdge("result")),
		)
		tr := setup(t, g)
		c := dialClient(t, tr)
		ch := c.channel()
		const runs = 10
		for _, src := range []string{"process.a", "process.b", "process.c"} {
			for i := range runs {
				c.publish(ch, g.WorkExchange, "join", Message{
					Body: fmt.Appendf(nil, `{"value":%d}`, i), MessageID: fmt.Sprint(src, i),
					RunID: fmt.Sprint("run", i), Source: src, Attempt: 1,
				})
			}
		}
		runNodesPrefetch(t, tr, &g, 4)
		got := c.collectNums("result", runs)
		for i, v := range got {
			if want := i*10000 + i*100 + i; v != want {
				t.Fatalf("result %d = %d, want %d (all %v)", i, v, want, got)
			}
		}
	})

	t.Run("PollReEnqueue", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		checks := map[int]int{}
		g := pollGraph("poll", 100*time.Millisecond, time.Minute, func(_ context.Context, n num) (num, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			checks[n.Value]++
			return num{n.Value * 3}, checks[n.Value] >= 3, nil
		})
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishNums(g, "start", 1, 2, 3)
		if got := c.collectNums("result", 3); !slices.Equal(got, []int{3, 6, 9}) {
			t.Errorf("results %v, want [3 6 9]", got)
		}
		mu.Lock()
		defer mu.Unlock()
		for v, n := range checks {
			if n != 3 {
				t.Errorf("value %d checked %d times, want 3", v, n)
			}
		}
	})

	testNotices(t, setup)

	t.Run("FanOut", func(t *testing.T) {
		t.Parallel()
		g := testGraph("fan",
			Start[num]("start", "input"),
			FanOut[num]("copy", testEdge("input"), "left", "right"),
			Terminate[num]("left", testEdge("left")),
			Terminate[num]("right", testEdge("right")),
		)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishNums(g, "start", 1, 2, 3)
		for _, q := range []string{"left", "right"} {
			if got := c.collectNums(q, 3); !slices.Equal(got, []int{1, 2, 3}) {
				t.Errorf("%s got %v, want [1 2 3]", q, got)
			}
		}
	})

	t.Run("AdaptiveWindow", func(t *testing.T) {
		// With no prefetch set, the window adapts: a slow handler shrinks
		// it from startWindow by re-subscribing, and every delivery of the
		// consumers it cancels is still handled once and acknowledged (40
		// messages: the first consumer takes 32, the next the rest).
		t.Parallel()
		var mu sync.Mutex
		calls := map[int]int{}
		slow := func(_ context.Context, n num) (num, error) {
			mu.Lock()
			calls[n.Value]++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			return num{n.Value * 2}, nil
		}
		// A 50 ms handler keeps the target below 24 (a change from 32)
		// unless confirms take over half a second.
		edge := testEdge("input")
		edge.Prefetch, edge.Concurrency = 0, 1
		g := testGraph("adaptive",
			Start[num]("start", "input"),
			Process[num, num]("double", edge, slow, "result"),
			Terminate[num]("result", testEdge("result")),
		)
		tr := setup(t, g)
		m := runNodes(t, tr, &g)
		c := dialClient(t, tr)
		var values, want []int
		for i := range 40 {
			values = append(values, i)
			want = append(want, 2*i)
		}
		c.publishNums(g, "start", values...)
		if got := c.collectNums("result", 40); !slices.Equal(got, want) {
			t.Errorf("results %v, want %v", got, want)
		}
		mu.Lock()
		for v, n := range calls {
			if n != 1 {
				t.Errorf("value %d: handler called %d times, want once", v, n)
			}
		}
		mu.Unlock()
		if w := m.node(g.Nodes[1]).window.Load(); w >= startWindow {
			t.Errorf("prefetch window %d after 40 deliveries to a 50 ms handler; want it shrunk below %d", w, startWindow)
		}
	})
}

// waitGroup waits for wg, failing the test after the deadline.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(confDeadline):
		t.Fatalf("%s not done within %s", what, confDeadline)
	}
}
