package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The split node on both transports. A split not closed by a gather is no
// graph dge validate accepts, but the runtime runs any Graph: these graphs
// end in a terminate queue, which the tests read.

// upTo splits a num v into the items 1..v (none for 0).
func upTo(calls *atomic.Int64) func(context.Context, num) ([]num, error) {
	return func(_ context.Context, n num) ([]num, error) {
		calls.Add(1)
		items := make([]num, n.Value)
		for i := range items {
			items[i] = num{i + 1}
		}
		return items, nil
	}
}

// splitChain is start -> split.numbers (split, queue "numbers") ->
// process.inc (handler, queue "items") -> terminate.result.
func splitChain(name string, split func(context.Context, num) ([]num, error), handler func(context.Context, num) (num, error)) Graph {
	return testGraph(name,
		Start[num]("start", "numbers"),
		Split[num, num]("numbers", testEdge("numbers"), split, "items"),
		Process[num, num]("inc", testEdge("items"), handler, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

// framesOf returns the x-dge-split frames of d, failing the test when they
// do not parse.
func framesOf(t *testing.T, d Delivery) splitFrames {
	t.Helper()
	fs, err := splitFramesOf(d.Headers)
	if err != nil {
		t.Fatalf("message %s: %v", d.MessageID, err)
	}
	return fs
}

func bodyValue(t *testing.T, d Delivery) int {
	t.Helper()
	var v num
	if err := json.Unmarshal(d.Body, &v); err != nil {
		t.Fatalf("message %s: body %q: %v", d.MessageID, d.Body, err)
	}
	return v.Value
}

func testSplit(t *testing.T, setup transportSetup) {
	t.Run("ItemsCarryFrames", func(t *testing.T) {
		t.Parallel()
		var splits, incs atomic.Int64
		g := splitChain("split-items", upTo(&splits), func(_ context.Context, n num) (num, error) {
			incs.Add(1)
			return num{n.Value * 10}, nil
		})
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		runs := map[string]int{c.publishRun(ch, g, "start", []byte(`{"value":3}`)): 3, c.publishRun(ch, g, "start", []byte(`{"value":5}`)): 5}
		got := map[string][]Delivery{}
		for _, d := range c.collect("result", 8) {
			got[d.RunID] = append(got[d.RunID], d)
		}
		ids := map[string]bool{}
		splitIDs := map[string]bool{}
		for run, count := range runs {
			ds := got[run]
			if len(ds) != count {
				t.Fatalf("run of %d: %d results, want %d", count, len(ds), count)
			}
			seen := make([]bool, count)
			for _, d := range ds {
				fs := framesOf(t, d)
				f, _ := fs.top()
				if len(fs) != 1 || f.Split != "numbers" || f.Count != count {
					t.Fatalf("run of %d: frames %s, want one frame of split numbers with count %d", count, fs, count)
				}
				if seen[f.Index] {
					t.Errorf("run of %d: index %d twice", count, f.Index)
				}
				seen[f.Index] = true
				if v := bodyValue(t, d); v != (f.Index+1)*10 {
					t.Errorf("run of %d: item %d is %d, want %d", count, f.Index, v, (f.Index+1)*10)
				}
				if d.Source != "process.inc" {
					t.Errorf("result from %s, want process.inc", d.Source)
				}
				ids[d.MessageID] = true
				splitIDs[f.ID] = true
			}
		}
		if len(ids) != 8 || len(splitIDs) != 2 {
			t.Errorf("%d distinct message IDs and %d split IDs, want 8 and 2", len(ids), len(splitIDs))
		}
		if n, m := splits.Load(), incs.Load(); n != 2 || m != 8 {
			t.Errorf("split handler called %d times and process handler %d, want 2 and 8", n, m)
		}
	})

	t.Run("RedeliveredInputSameItems", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := testGraph("split-again",
			Start[num]("start", "numbers"),
			Split[num, num]("numbers", testEdge("numbers"), upTo(&calls), "items"),
			Terminate[num]("items", testEdge("items")),
		)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		in := Message{Body: []byte(`{"value":3}`), MessageID: "in1", RunID: "run1", Source: "start.start", Attempt: 1}
		c.publish(ch, g.WorkExchange, "numbers", in)
		c.publish(ch, g.WorkExchange, "numbers", in)
		byIndex := map[int][]Delivery{}
		for _, d := range c.collect("items", 6) {
			f, _ := framesOf(t, d).top()
			byIndex[f.Index] = append(byIndex[f.Index], d)
		}
		for i := range 3 {
			ds := byIndex[i]
			if len(ds) != 2 {
				t.Fatalf("index %d: %d items, want 2 (one per delivery of the input)", i, len(ds))
			}
			if ds[0].MessageID != ds[1].MessageID || ds[0].Headers[HeaderSplit] != ds[1].Headers[HeaderSplit] || ds[0].RunID != "run1" {
				t.Errorf("index %d: IDs %s and %s, frames %v and %v, run %s; want the same ID and frames in run1",
					i, ds[0].MessageID, ds[1].MessageID, ds[0].Headers[HeaderSplit], ds[1].Headers[HeaderSplit], ds[0].RunID)
			}
		}
		if byIndex[0][0].MessageID == byIndex[1][0].MessageID {
			t.Error("items 0 and 1 share a message ID")
		}
	})

	// nested is start -> split.outer -> split.inner -> process.inc -> terminate.result.
	nested := func(name string, outer, inner, incs *atomic.Int64) Graph {
		return testGraph(name,
			Start[num]("start", "outer"),
			Split[num, num]("outer", testEdge("outer"), upTo(outer), "inner"),
			Split[num, num]("inner", testEdge("inner"), upTo(inner), "items"),
			Process[num, num]("inc", testEdge("items"), func(_ context.Context, n num) (num, error) {
				incs.Add(1)
				return n, nil
			}, "result"),
			Terminate[num]("result", testEdge("result")),
		)
	}

	t.Run("EmptySplitMarker", func(t *testing.T) {
		t.Parallel()
		var outer, inner, incs atomic.Int64
		g := nested("split-empty", &outer, &inner, &incs)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		run := c.publishRun(c.channel(), g, "start", []byte(`{"value":0}`))
		d := c.collect("result", 1)[0]
		fs := framesOf(t, d)
		f, _ := fs.top()
		if len(fs) != 1 || f.Split != "outer" || f.Index != 0 || f.Count != 0 || len(d.Body) != 0 || d.RunID != run {
			t.Errorf("got frames %s, body %q, run %s; want the one marker of outer's empty split (count 0, empty body) in run %s",
				fs, d.Body, d.RunID, run)
		}
		if _, notice := noticeOf(d.Message); notice {
			t.Error("the marker is a failure notice")
		}
		if n, m, k := outer.Load(), inner.Load(), incs.Load(); n != 1 || m != 0 || k != 0 {
			t.Errorf("handlers called: outer %d, inner %d, process %d; want 1, 0, 0 (a marker is forwarded without a call)", n, m, k)
		}
	})

	t.Run("NestedSplits", func(t *testing.T) {
		t.Parallel()
		var outer, inner, incs atomic.Int64
		g := nested("split-nested", &outer, &inner, &incs)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishRun(c.channel(), g, "start", []byte(`{"value":2}`))
		// outer: 1, 2; inner(1): 1; inner(2): 1, 2.
		type item struct {
			oi, oc, ii, ic, value int
		}
		var got []item
		innerIDs := map[int]string{}
		outerIDs := map[string]bool{}
		for _, d := range c.collect("result", 3) {
			fs := framesOf(t, d)
			if len(fs) != 2 || fs[0].Split != "outer" || fs[1].Split != "inner" {
				t.Fatalf("frames %s, want outer's then inner's", fs)
			}
			got = append(got, item{fs[0].Index, fs[0].Count, fs[1].Index, fs[1].Count, bodyValue(t, d)})
			if id, ok := innerIDs[fs[0].Index]; ok && id != fs[1].ID {
				t.Errorf("outer item %d: two inner split IDs", fs[0].Index)
			}
			innerIDs[fs[0].Index] = fs[1].ID
			outerIDs[fs[0].ID] = true
		}
		slices.SortFunc(got, func(a, b item) int { return (a.oi*10 + a.ii) - (b.oi*10 + b.ii) })
		want := []item{{0, 2, 0, 1, 1}, {1, 2, 0, 2, 1}, {1, 2, 1, 2, 2}}
		if !slices.Equal(got, want) {
			t.Errorf("items (outer index, count, inner index, count, value) %v, want %v", got, want)
		}
		if len(outerIDs) != 1 || innerIDs[0] == innerIDs[1] {
			t.Errorf("outer split IDs %v, inner %v; want one outer split and two distinct inner ones", outerIDs, innerIDs)
		}
	})

	t.Run("HandlerErrorParksWithNotice", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := splitChain("split-fail", func(_ context.Context, n num) ([]num, error) {
			calls.Add(1)
			return nil, errors.New("the list is out of reach")
		}, double)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		run := c.publishRun(c.channel(), g, "start", []byte(`{"value":4}`))
		d := c.collect("result", 1)[0]
		f, ok := noticeOf(d.Message)
		if !ok || f.Node != "split.numbers" || f.Reason != "max-attempts" || d.RunID != run {
			t.Errorf("result %+v (notice %v) in run %s, want a max-attempts notice from split.numbers in run %s", f, ok, d.RunID, run)
		}
		p := c.collect("numbers.dead", 1)[0]
		if p.Headers[HeaderReason] != "max-attempts" || p.Attempt != 3 || !strings.Contains(fmt.Sprint(p.Headers[HeaderError]), "out of reach") {
			t.Errorf("parked with reason %v, attempt %d, error %v; want max-attempts after 3 with the handler's error",
				p.Headers[HeaderReason], p.Attempt, p.Headers[HeaderError])
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("split handler called %d times, want 3", n)
		}
	})

	t.Run("ItemNoticeCarriesFrames", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := splitChain("split-item-fails", upTo(&calls), func(_ context.Context, n num) (num, error) {
			if n.Value == 3 {
				return num{}, Permanent(errors.New("3 is declined"))
			}
			return n, nil
		})
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishRun(c.channel(), g, "start", []byte(`{"value":5}`))
		var results []int
		var notices []Delivery
		for _, d := range c.collect("result", 5) {
			if _, ok := noticeOf(d.Message); ok {
				notices = append(notices, d)
				continue
			}
			results = append(results, bodyValue(t, d))
		}
		slices.Sort(results)
		if !slices.Equal(results, []int{1, 2, 4, 5}) || len(notices) != 1 {
			t.Fatalf("results %v and %d notices, want [1 2 4 5] and 1", results, len(notices))
		}
		p := c.collect("items.dead", 1)[0]
		if f, _ := framesOf(t, p).top(); f.Index != 2 || f.Count != 5 {
			t.Errorf("parked item's frame %+v, want index 2 of 5", f)
		}
		if got, want := notices[0].Headers[HeaderSplit], p.Headers[HeaderSplit]; got != want {
			t.Errorf("notice carries frames %v, want the failed item's %v", got, want)
		}
	})

	t.Run("PollKeepsFrames", func(t *testing.T) {
		t.Parallel()
		var calls, checks atomic.Int64
		g := testGraph("split-poll",
			Start[num]("start", "numbers"),
			Split[num, num]("numbers", testEdge("numbers"), upTo(&calls), "polled"),
			Poll[num, num]("wait", testEdge("polled"), 50*time.Millisecond, time.Minute, func(_ context.Context, n num) (num, bool, error) {
				return n, checks.Add(1) > 2, nil // not done the first two checks
			}, "result"),
			Terminate[num]("result", testEdge("result")),
		)
		g.PollExchange = "split-poll.poll"
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishRun(c.channel(), g, "start", []byte(`{"value":2}`))
		seen := map[int]bool{}
		for _, d := range c.collect("result", 2) {
			f, _ := framesOf(t, d).top()
			if f.Split != "numbers" || f.Count != 2 || bodyValue(t, d) != f.Index+1 {
				t.Errorf("result %s with frame %+v", d.Body, f)
			}
			seen[f.Index] = true
		}
		if len(seen) != 2 {
			t.Errorf("indexes %v, want 0 and 1", seen)
		}
	})

	t.Run("BorderCheck", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := testGraph("split-border",
			Start[num]("start", "numbers"),
			Split[num, num]("numbers", testEdge("numbers"), upTo(&calls), "items"),
			Terminate[num]("items", testEdge("items")),
		)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		msg := func(id string, h map[string]any) Message {
			return Message{Body: []byte(`{"value":2}`), MessageID: id, RunID: "run-" + id, Source: "start.start", Attempt: 1, Headers: h}
		}
		c.publish(ch, g.WorkExchange, "numbers", msg("bad-split", map[string]any{HeaderSplit: "outer:abc:3:3"}))
		c.publish(ch, g.WorkExchange, "numbers", msg("bad-state", map[string]any{"x-dge-state": "later"}))
		c.publish(ch, g.WorkExchange, "numbers", msg("nested", map[string]any{HeaderSplit: "outer:abc:1:3"}))
		parked := map[string]Delivery{}
		for _, d := range c.collect("numbers.dead", 2) {
			parked[d.MessageID] = d
		}
		for id, header := range map[string]string{"bad-split": HeaderSplit, "bad-state": "x-dge-state"} {
			d, ok := parked[id]
			if !ok {
				t.Errorf("%s not parked; parked %v", id, keys(parked))
				continue
			}
			if d.Headers[HeaderReason] != "bad-header" || !strings.Contains(fmt.Sprint(d.Headers[HeaderError]), header) {
				t.Errorf("%s: reason %v, error %v; want bad-header naming %s", id, d.Headers[HeaderReason], d.Headers[HeaderError], header)
			}
			if _, kept := d.Headers[header]; kept {
				t.Errorf("%s: the parked copy keeps the bad %s", id, header)
			}
		}
		// The items of the valid input, and the notices of the parked ones.
		var frames []string
		for _, d := range c.collect("items", 4) {
			if _, ok := noticeOf(d.Message); !ok {
				frames = append(frames, fmt.Sprint(d.Headers[HeaderSplit]))
			}
		}
		slices.Sort(frames)
		id := splitID(Delivery{Message: msg("nested", nil)}, "split.numbers")
		want := []string{"outer:abc:1:3;numbers:" + id + ":0:2", "outer:abc:1:3;numbers:" + id + ":1:2"}
		if !slices.Equal(frames, want) {
			t.Errorf("items of an input inside a split carry %v, want %v", frames, want)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("split handler called %d times, want once (for the valid input)", n)
		}
	})

	t.Run("SmallWindow", func(t *testing.T) { t.Parallel(); testSplitWindow(t, setup) })

	t.Run("HundredThousandItems", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		g := testGraph("split-big",
			Start[num]("start", "numbers"),
			Split[num, num]("numbers", testEdge("numbers"), upTo(&calls), "items"),
			Terminate[num]("items", testEdge("items")),
		)
		tr := setup(t, g)
		m := runNodes(t, tr, &g)
		c := dialClient(t, tr)
		const count = 100_000
		start := time.Now()
		c.publishRun(c.channel(), g, "start", fmt.Appendf(nil, `{"value":%d}`, count))
		nm := m.node(g.Nodes[1])
		deadline := time.Now().Add(5 * confDeadline)
		for nm.acked.Load() < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the split's input not acked within %s; %d items published", 5*confDeadline, nm.published.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		ready, err := c.conn.CheckQueue(t.Context(), "items")
		if err != nil {
			t.Fatal(err)
		}
		if ready != count || nm.published.Load() != count {
			t.Errorf("items queue holds %d, published counter %d; want %d", ready, nm.published.Load(), count)
		}
		t.Logf("%d items split and confirmed in %s: %.0f items/s", count, took.Round(time.Millisecond), count/took.Seconds())
	})
}

// testSplitWindow runs splits on every worker of a node at once through a
// small publish window: each split holds only its share of the window's
// slots, so none of them waits forever for a slot another holds.
func testSplitWindow(t *testing.T, setup transportSetup) {
	var calls atomic.Int64
	edge := testEdge("numbers")
	edge.Prefetch, edge.Concurrency = 1, 4
	g := testGraph("split-window",
		Start[num]("start", "numbers"),
		Split[num, num]("numbers", edge, upTo(&calls), "items"),
		Terminate[num]("items", testEdge("items")),
	)
	tr := setup(t, g)
	m := runNodes(t, tr, &g)
	c := dialClient(t, tr)
	const inputs, count = 8, 500
	ch := c.channel()
	for range inputs {
		c.publishRun(ch, g, "start", fmt.Appendf(nil, `{"value":%d}`, count))
	}
	nm := m.node(g.Nodes[1])
	deadline := time.Now().Add(confDeadline)
	for nm.acked.Load() < inputs {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d inputs acked within %s, %d items published", nm.acked.Load(), inputs, confDeadline, nm.published.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ready, err := c.conn.CheckQueue(t.Context(), "items"); err != nil || ready != inputs*count {
		t.Errorf("items queue holds %d (%v), want %d", ready, err, inputs*count)
	}
}
