package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgehq/dge/envelope"
)

// The route node on both transports: each message down the one path its
// label names, the default path, an unknown label parked as no-route with
// one failure record, paths merging again, a route inside a split, and
// many runs through several instances.

// label is the test routes' handler: the label of a num by its last
// digit: 1 "one", 2 "two", 3 "three" (which no path of the test graphs
// takes), anything else "other" (taken by the default path, when there
// is one).
func label(_ context.Context, n num) (string, error) {
	switch n.Value % 10 {
	case 1:
		return "one", nil
	case 2:
		return "two", nil
	case 3:
		return "three", nil
	}
	return "other", nil
}

// stamp returns a path's handler: it appends digit k to the value, so a
// result says which path its run took.
func stamp(k int, calls *atomic.Int64) func(context.Context, num) (num, error) {
	return func(_ context.Context, n num) (num, error) {
		if calls != nil {
			calls.Add(1)
		}
		return num{n.Value*10 + k}, nil
	}
}

// routeGraph is start -> route.r (queue "in"; label) with the paths "one"
// (process.one, queue "p1") and "two" (process.two, "p2"), and, when
// withDefault, the default path (process.dflt, "pd"); every path merges
// into process.m (queue "merge", from several nodes), which feeds
// terminate.result. Paths stamp 1, 2 and 9; m stamps nothing.
func routeGraph(name string, withDefault bool) Graph {
	fallback := ""
	if withDefault {
		fallback = "pd"
	}
	nodes := []Node{
		Start[num]("start", "in"),
		Route[num]("r", testEdge("in"), label, map[string]string{"one": "p1", "two": "p2"}, fallback),
		Process[num, num]("one", testEdge("p1"), stamp(1, nil), "merge"),
		Process[num, num]("two", testEdge("p2"), stamp(2, nil), "merge"),
		Process[num, num]("m", testEdge("merge"), func(_ context.Context, n num) (num, error) { return n, nil }, "result"),
		Terminate[num]("result", testEdge("result")),
	}
	if withDefault {
		nodes = append(nodes, Process[num, num]("dflt", testEdge("pd"), stamp(9, nil), "merge"))
	}
	return testGraph(name, nodes...)
}

// routeEnds is start -> route.r (queue "in"; label) whose paths "one" and
// "two" are terminate nodes (queues "t1", "t2"), and the default path,
// when withDefault, terminate "td": what the route publishes stays in
// those queues for the test to count.
func routeEnds(name string, withDefault bool) Graph {
	fallback := ""
	nodes := []Node{
		Start[num]("start", "in"),
		Terminate[num]("one", testEdge("t1")),
		Terminate[num]("two", testEdge("t2")),
	}
	if withDefault {
		fallback = "td"
		nodes = append(nodes, Terminate[num]("dflt", testEdge("td")))
	}
	nodes = append(nodes, Route[num]("r", testEdge("in"), label, map[string]string{"one": "t1", "two": "t2"}, fallback))
	return testGraph(name, nodes...)
}

func testRoute(t *testing.T, setup transportSetup) {
	t.Run("EachLabelDefaultAndMerge", func(t *testing.T) {
		t.Parallel()
		g := routeGraph("route-labels", true)
		tr := setup(t, g)
		m := runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		want := map[string]int{}
		for _, v := range []int{11, 22, 34, 41, 57} { // one, two, three (default), one, other (default)
			want[c.publishRun(ch, g, "start", fmt.Appendf(nil, `{"value":%d}`, v))] = v*10 + map[int]int{1: 1, 2: 2}[v%10]
		}
		for run, v := range want {
			if v%10 == 0 {
				want[run] = v + 9
			}
		}
		results, failed := outcomes(t, c.collect("result", len(want)))
		if len(failed) != 0 {
			t.Errorf("failure records %v, want none", failed)
		}
		for run, v := range want {
			if results[run] != v {
				t.Errorf("run %s: result %d, want %d", run, results[run], v)
			}
		}
		r := gatherNode(m, "route.r")
		waitFor(t, "the route's counts", func() bool { return r.acked.Load() == 5 })
		for l, n := range map[string]int64{"one": 2, "two": 1, "*": 2} {
			if got := r.routeTaken[l].Load(); got != n {
				t.Errorf("dge_route_messages_total{label=%q} = %d, want %d", l, got, n)
			}
		}
		if r.parked.Load() != 0 {
			t.Errorf("route parked %d, want 0", r.parked.Load())
		}
	})

	t.Run("RouteOutputIsItsInput", func(t *testing.T) {
		t.Parallel()
		g := routeEnds("route-same", false)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		in := Message{Body: []byte(`{"value":21}`), MessageID: "in1", RunID: "run1", Source: "start.start", Attempt: 1,
			Headers: map[string]any{HeaderRedriven: int32(1)}}
		c.publish(c.channel(), g.WorkExchange, "in", in)
		d := c.collect("t1", 1)[0]
		if string(d.Body) != string(in.Body) || d.RunID != "run1" || d.Source != "route.r" ||
			d.MessageID != deriveID("in1", nil, "route.r", "t1") || d.Headers[HeaderRedriven] == nil {
			t.Errorf("route output: body %s, run %s, source %s, ID %s, headers %v; want the input's body in run1 from route.r, ID derived, x-dge-redriven kept",
				d.Body, d.RunID, d.Source, d.MessageID, d.Headers)
		}
	})

	t.Run("UnknownLabelParkedOneNotice", func(t *testing.T) {
		t.Parallel()
		g := routeEnds("route-unknown", false)
		tr := setup(t, g)
		m := runNodes(t, tr, &g)
		c := dialClient(t, tr)
		run := c.publishRun(c.channel(), g, "start", []byte(`{"value":3}`))
		dead := c.collect("in.dead", 1)[0]
		wantErr := `label "three" is taken by no path of route.r (it takes "one", "two"): add a path with when = "three", or a default path with when = "*"`
		if dead.Headers[HeaderReason] != string(envelope.NoRoute) || dead.Headers[HeaderError] != wantErr || dead.RunID != run {
			t.Errorf("parked copy: reason %v, error %v, run %s; want no-route, %s, %s", dead.Headers[HeaderReason], dead.Headers[HeaderError], dead.RunID, wantErr, run)
		}
		// Parked once the copy and the notices were confirmed: the
		// notices are in their queues now.
		r := gatherNode(m, "route.r")
		waitFor(t, "the park", func() bool { return r.parked.Load() == 1 })
		assertQueues(t, c, map[string]int{"t1": 1, "t2": 0})
		f, ok := noticeOf(c.collect("t1", 1)[0].Message)
		if !ok || f.Node != "route.r" || f.Reason != string(envelope.NoRoute) || f.Error != wantErr {
			t.Errorf("notice on the first label's path: %+v (notice %v), want route.r's no-route", f, ok)
		}
	})

	t.Run("NoticeAndMarkerDownOnePath", func(t *testing.T) {
		t.Parallel()
		for _, withDefault := range []bool{false, true} {
			g := routeEnds(fmt.Sprint("route-notice-", withDefault), withDefault)
			tr := setup(t, g)
			m := runNodes(t, tr, &g)
			c := dialClient(t, tr)
			ch := c.channel()
			c.publish(ch, g.WorkExchange, "in", Message{MessageID: "n1", RunID: "run1", Source: "process.up", Attempt: 1,
				Headers: noticeHeaders(RunFailure{Node: "process.up", Reason: "permanent", Error: "no"})})
			c.publish(ch, g.WorkExchange, "in", Message{MessageID: "e1", RunID: "run2", Source: "split.s", Attempt: 1,
				Headers: map[string]any{HeaderSplit: splitFrame{Split: "s", ID: "id", Count: 0}.String()}})
			r := gatherNode(m, "route.r")
			waitFor(t, "the notice and the marker", func() bool { return r.acked.Load() == 2 })
			want := map[string]int{"t1": 2, "t2": 0}
			if withDefault {
				want = map[string]int{"t1": 0, "t2": 0, "td": 2}
			}
			assertQueues(t, c, want)
		}
	})

	t.Run("UnknownLabelOneFailureRecordAfterMerge", func(t *testing.T) {
		t.Parallel()
		g := routeGraph("route-merge-fail", false)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		bad := c.publishRun(ch, g, "start", []byte(`{"value":13}`))
		good := c.publishRun(ch, g, "start", []byte(`{"value":2}`))
		results, failed := outcomes(t, c.collect("result", 2))
		if f := failed[bad]; f.Node != "route.r" || f.Reason != string(envelope.NoRoute) || !strings.Contains(f.Error, `label "three"`) {
			t.Errorf("run of 13: failure record %+v, want route.r's no-route naming \"three\"", f)
		}
		if results[good] != 22 || len(failed) != 1 {
			t.Errorf("results %v, failure records %v; want 22 for run %s and one failure record", results, failed, good)
		}
	})

	t.Run("InsideSplit", func(t *testing.T) {
		t.Parallel()
		var splits, ones, twos, others atomic.Int64
		g := testGraph("route-split",
			Start[num]("start", "numbers"),
			Split[num, num]("numbers", testEdge("numbers"), upTo(&splits), "in"),
			Route[num]("r", testEdge("in"), label, map[string]string{"one": "p1", "two": "p2"}, "pd"),
			Process[num, num]("one", testEdge("p1"), stamp(1, &ones), "sum"),
			Process[num, num]("two", testEdge("p2"), stamp(2, &twos), "sum"),
			Process[num, num]("dflt", testEdge("pd"), stamp(9, &others), "sum"),
			Fold[num, num]("sum", testEdge("sum"), "numbers", confDeadline, nil, sumFold, "result"),
			Terminate[num]("result", testEdge("result")),
		)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		// Items 1..12: 1 and 11 take "one", 2 and 12 "two", the rest
		// (3, the unknown "three", among them) the default.
		full := c.publishRun(ch, g, "start", []byte(`{"value":12}`))
		empty := c.publishRun(ch, g, "start", []byte(`{"value":0}`))
		want := 0
		for v := 1; v <= 12; v++ {
			switch v % 10 {
			case 1:
				want += v*10 + 1
			case 2:
				want += v*10 + 2
			default:
				want += v*10 + 9
			}
		}
		results, failed := outcomes(t, c.collect("result", 2))
		if results[full] != want || results[empty] != 0 || len(failed) != 0 {
			t.Errorf("results %v, failure records %v; want %d for the run of 12 items, 0 for the empty split", results, failed, want)
		}
		if a, b, o := ones.Load(), twos.Load(), others.Load(); a != 2 || b != 2 || o != 8 {
			t.Errorf("paths called one %d, two %d, default %d times; want 2, 2, 8", a, b, o)
		}
		if n, _ := c.conn.CheckQueue(t.Context(), "sum.dead"); n != 0 {
			t.Errorf("%d parked at the gather, want none", n)
		}
	})

	t.Run("RandomLabelsThreeInstances", func(t *testing.T) {
		t.Parallel()
		g := routeGraph("route-random", true)
		tr := setup(t, g)
		for i := range 3 {
			runEngine(t, tr, &g, fmt.Sprint("instance", i))
		}
		c := dialClient(t, tr)
		ch := c.channel()
		const runs = 300
		want := map[string]int{}
		taken := map[int]int{}
		for range runs {
			// A third of the runs each: last digit 1 ("one"), 2 ("two"),
			// or 3 to 9 or 0 (the default path, "three" among them).
			k := []int{1, 2, 9}[rand.IntN(3)]
			v := rand.IntN(100)*10 + k
			if k == 9 {
				v = rand.IntN(100)*10 + []int{0, 3, 4, 5, 6, 7, 8, 9}[rand.IntN(8)]
			}
			taken[k]++
			want[c.publishRun(ch, g, "start", fmt.Appendf(nil, `{"value":%d}`, v))] = v*10 + k
		}
		results, failed := outcomes(t, c.collect("result", runs))
		lost := 0
		for run, v := range want {
			got, ok := results[run]
			switch {
			case !ok:
				lost++
			case got != v:
				t.Errorf("run %s: result %d, want %d (path %d)", run, got, v, v%10)
			}
		}
		if lost != 0 || len(failed) != 0 || len(results) != runs {
			t.Errorf("%d runs lost, %d failure records, %d distinct results; want 0, 0, %d", lost, len(failed), len(results), runs)
		}
		t.Logf("route: %d runs through 3 instances, paths one %d, two %d, default %d, lost %d", runs, taken[1], taken[2], taken[9], lost)
	})
}

// assertQueues checks the number of messages ready in each queue of want.
func assertQueues(t *testing.T, c *client, want map[string]int) {
	t.Helper()
	for q, n := range want {
		got, err := c.conn.CheckQueue(t.Context(), q)
		if err != nil {
			t.Fatalf("check %s: %v", q, err)
		}
		if got != n {
			t.Errorf("queue %s holds %d messages, want %d", q, got, n)
		}
	}
}
