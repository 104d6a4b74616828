package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// word is a second message type, for typed joins.
type word struct {
	Text string `json:"text"`
}

// typedJoinGraph joins a num from process.a and a word from process.b, so
// the parts differ in type. b declines (permanently) the value 13 while
// declining is nil or holds true.
func typedJoinGraph(name string, timeout time.Duration, declining *atomic.Bool) Graph {
	return testGraph(name,
		Start[num]("start", "input"),
		FanOut[num]("split", testEdge("input"), "a_in", "b_in"),
		Process[num, num]("a", testEdge("a_in"), func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }, "join"),
		Process[num, word]("b", testEdge("b_in"), func(_ context.Context, n num) (word, error) {
			if n.Value == 13 && (declining == nil || declining.Load()) {
				return word{}, Permanent(errors.New("declined"))
			}
			return word{strconv.Itoa(n.Value * 10)}, nil
		}, "join"),
		Join[num]("join", testEdge("join"), []Part{PartOf[num]("process.a"), PartOf[word]("process.b")}, timeout,
			func(_ context.Context, parts []any) (num, error) {
				a, b := parts[0].(num), parts[1].(word)
				v, err := strconv.Atoi(b.Text)
				if err != nil {
					return num{}, Permanent(err)
				}
				return num{a.Value*100000 + v}, nil
			}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

// twoJoinsGraph fans out to four branches joined in pairs, the pairs joined
// again: a run that fails in one branch must end both joins. Branch a
// declines the value 13, the start's validate node the value 7.
func twoJoinsGraph(name string) Graph {
	inc := func(k int) func(context.Context, num) (num, error) {
		return func(_ context.Context, n num) (num, error) {
			if k == 1 && n.Value == 13 {
				return num{}, Permanent(errors.New("a declines 13"))
			}
			return num{n.Value*10 + k}, nil
		}
	}
	sum := func(_ context.Context, parts []num) (num, error) { return num{parts[0].Value + parts[1].Value}, nil }
	return testGraph(name,
		Start[num]("start", "input"),
		Process[num, num]("validate", testEdge("input"), func(_ context.Context, n num) (num, error) {
			if n.Value == 7 {
				return num{}, Permanent(errors.New("7 is invalid"))
			}
			return n, nil
		}, "split"),
		FanOut[num]("split", testEdge("split"), "a_in", "b_in", "c_in", "d_in"),
		Process[num, num]("a", testEdge("a_in"), inc(1), "ab"),
		Process[num, num]("b", testEdge("b_in"), inc(2), "ab"),
		Process[num, num]("c", testEdge("c_in"), inc(3), "cd"),
		Process[num, num]("d", testEdge("d_in"), inc(4), "cd"),
		Aggregate[num, num]("ab", testEdge("ab"), []string{"process.a", "process.b"}, time.Hour, sum, "all"),
		Aggregate[num, num]("cd", testEdge("cd"), []string{"process.c", "process.d"}, time.Hour, sum, "all"),
		Aggregate[num, num]("all", testEdge("all"), []string{"aggregate.ab", "aggregate.cd"}, time.Hour, sum, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

// outcomes splits deliveries from a terminate queue into results and
// failure records by run ID.
func outcomes(t *testing.T, ds []Delivery) (results map[string]int, failed map[string]RunFailure) {
	t.Helper()
	results, failed = map[string]int{}, map[string]RunFailure{}
	for _, d := range ds {
		if f, ok := noticeOf(d.Message); ok {
			if _, dup := failed[d.RunID]; dup {
				t.Errorf("run %s: two failure records", d.RunID)
			}
			failed[d.RunID] = f
			continue
		}
		var v num
		if err := json.Unmarshal(d.Body, &v); err != nil {
			t.Fatalf("result %q: %v", d.Body, err)
		}
		results[d.RunID] = v.Value
	}
	return results, failed
}

// reasons returns the park reasons of deliveries from a dead queue.
func reasons(ds []Delivery) []string {
	var rs []string
	for _, d := range ds {
		rs = append(rs, fmt.Sprint(d.Headers[HeaderReason]))
	}
	slices.Sort(rs)
	return rs
}

// testNotices checks typed joins and failure notices: a failed run ends at
// once, everywhere downstream, never waiting for an aggregate's timeout
// (an hour in these graphs).
func testNotices(t *testing.T, setup transportSetup) {
	t.Run("TypedJoin", func(t *testing.T) {
		t.Parallel()
		g := typedJoinGraph("typed", time.Hour, nil)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		c.publishNums(g, "start", 1, 2, 3)
		if got := c.collectNums("result", 3); !slices.Equal(got, []int{200010, 300020, 400030}) {
			t.Errorf("results %v, want [200010 300020 400030]", got)
		}
	})

	t.Run("DeclinedBranchEndsRun", func(t *testing.T) {
		t.Parallel()
		g := typedJoinGraph("declined", time.Hour, nil)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		declined := c.publishRun(ch, g, "start", []byte(`{"value":13}`))
		good := c.publishRun(ch, g, "start", []byte(`{"value":2}`))
		ch.Close()
		results, failed := outcomes(t, c.collect("result", 2))
		if results[good] != 300020 || len(results) != 1 {
			t.Errorf("results %v, want run %s = 300020 only", results, good)
		}
		if f := failed[declined]; f != (RunFailure{Node: "process.b", Reason: "permanent", Error: "declined"}) || len(failed) != 1 {
			t.Errorf("failure records %v, want run %s failed at process.b (permanent: declined)", failed, declined)
		}
		// a's part, waiting at the join, is parked at once as member-failed.
		dead := c.collect("join.dead", 1)
		if dead[0].RunID != declined || dead[0].Headers[HeaderReason] != "member-failed" || dead[0].Source != "process.a" {
			t.Errorf("join parked run %s from %s for %v, want a's part of run %s as member-failed", dead[0].RunID, dead[0].Source, dead[0].Headers[HeaderReason], declined)
		}
		if b := c.collect("b_in.dead", 1); b[0].Headers[HeaderReason] != "permanent" {
			t.Errorf("b parked for %v, want permanent", b[0].Headers[HeaderReason])
		}
	})

	t.Run("RedrivenRunCompletesAfterItsFailureRecord", func(t *testing.T) {
		t.Parallel()
		var declining atomic.Bool
		declining.Store(true)
		g := typedJoinGraph("redrive", time.Hour, &declining)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		defer ch.Close()
		run := c.publishRun(ch, g, "start", []byte(`{"value":13}`))
		if _, failed := outcomes(t, c.collect("result", 1)); failed[run].Node != "process.b" {
			t.Fatalf("failure records %v, want run %s failed at process.b", failed, run)
		}
		// Both parts of the run end parked: b's as permanent, a's as
		// member-failed. a's part may reach the join after the notice, and
		// so be parked after the failure record arrives: take both before
		// redriving either, since a part of the run still on its way when
		// the run is redriven joins the redriven partner instead.
		queues := []string{"b_in", "join"}
		var parked []Delivery
		for _, q := range queues {
			parked = append(parked, c.collect(q+".dead", 1)[0])
		}
		if d := parked[1]; d.RunID != run || d.Source != "process.a" || d.Headers[HeaderReason] != "member-failed" {
			t.Fatalf("join parked run %s from %s for %v, want a's part of run %s as member-failed", d.RunID, d.Source, d.Headers[HeaderReason], run)
		}
		// Redrive both, as dge parked redrive does: back to their work
		// queues without the parking headers, counted in x-dge-redriven.
		declining.Store(false)
		for i, q := range queues {
			m := parked[i].Message
			m.Headers = map[string]any{HeaderRedriven: int64(1)}
			c.publish(ch, g.WorkExchange, q, m)
		}
		results, failed := outcomes(t, c.collect("result", 1))
		if results[run] != 1400130 || len(failed) != 0 {
			t.Errorf("results %v, failure records %v; want run %s to complete with 1400130", results, failed, run)
		}
	})

	t.Run("FanOutIntoTwoJoins", func(t *testing.T) {
		t.Parallel()
		g := twoJoinsGraph("twojoins")
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		inA := c.publishRun(ch, g, "start", []byte(`{"value":13}`))
		atStart := c.publishRun(ch, g, "start", []byte(`{"value":7}`))
		good := c.publishRun(ch, g, "start", []byte(`{"value":1}`))
		ch.Close()
		results, failed := outcomes(t, c.collect("result", 3))
		if want := 11 + 12 + 13 + 14; results[good] != want || len(results) != 1 {
			t.Errorf("results %v, want run %s = %d only", results, good, want)
		}
		if f := failed[inA]; f.Node != "process.a" || f.Reason != "permanent" {
			t.Errorf("run %s failed %+v, want at process.a", inA, f)
		}
		if f := failed[atStart]; f.Node != "process.validate" || f.Error != "7 is invalid" {
			t.Errorf("run %s failed %+v, want at process.validate", atStart, f)
		}
		// Join ab parks b's part of the run a declined; join all parks
		// cd's output of it: both joins end.
		if got := c.collect("ab.dead", 1); got[0].RunID != inA || got[0].Headers[HeaderReason] != "member-failed" {
			t.Errorf("ab parked run %s for %v, want run %s member-failed", got[0].RunID, got[0].Headers[HeaderReason], inA)
		}
		if got := c.collect("all.dead", 1); got[0].RunID != inA || got[0].Headers[HeaderReason] != "member-failed" || got[0].Source != "aggregate.cd" {
			t.Errorf("all parked run %s from %s for %v, want cd's output of run %s member-failed", got[0].RunID, got[0].Source, got[0].Headers[HeaderReason], inA)
		}
		if got := reasons(c.collect("input.dead", 1)); !slices.Equal(got, []string{"permanent"}) {
			t.Errorf("validate parked %v, want one permanent", got)
		}
	})

	t.Run("PollForwardsNotice", func(t *testing.T) {
		t.Parallel()
		var checks atomic.Int64
		g := testGraph("pollnotice",
			Start[num]("start", "input"),
			Process[num, num]("validate", testEdge("input"), func(_ context.Context, n num) (num, error) {
				if n.Value < 0 {
					return num{}, Permanent(errors.New("negative"))
				}
				return n, nil
			}, "check"),
			Poll[num, num]("check", testEdge("check"), 50*time.Millisecond, time.Hour, func(_ context.Context, n num) (num, bool, error) {
				checks.Add(1)
				return n, true, nil
			}, "result"),
			Terminate[num]("result", testEdge("result")),
		)
		g.PollExchange = "pollnotice.poll"
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		run := c.publishRun(ch, g, "start", []byte(`{"value":-1}`))
		ch.Close()
		_, failed := outcomes(t, c.collect("result", 1))
		if f := failed[run]; f != (RunFailure{Node: "process.validate", Reason: "permanent", Error: "negative"}) {
			t.Errorf("failure records %v, want run %s failed at process.validate", failed, run)
		}
		if n := checks.Load(); n != 0 {
			t.Errorf("poll handler called %d times for a failure notice, want 0", n)
		}
	})

	t.Run("MessageWithoutRunIDJoins", func(t *testing.T) {
		t.Parallel()
		g := joinGraph("norunid", time.Hour)
		tr := setup(t, g)
		runNodes(t, tr, &g)
		c := dialClient(t, tr)
		ch := c.channel()
		// As a producer outside dge would: no run ID, no source.
		c.publish(ch, g.WorkExchange, "input", Message{Body: []byte(`{"value":4}`), MessageID: "order-4"})
		c.publish(ch, g.WorkExchange, "input", Message{Body: []byte(`{"value":5}`)})
		ch.Close()
		got := c.collect("result", 2)
		values := []int{}
		for _, d := range got {
			if d.RunID == "" {
				t.Errorf("result %s without a run ID", d.Body)
			}
			var v num
			if err := json.Unmarshal(d.Body, &v); err != nil {
				t.Fatal(err)
			}
			values = append(values, v.Value)
			if v.Value == 500040 && d.RunID != deriveID("order-4", nil, "run-id", "input") {
				t.Errorf("run ID %s, want the one derived from message ID order-4", d.RunID)
			}
		}
		slices.Sort(values)
		if !slices.Equal(values, []int{500040, 600050}) {
			t.Errorf("results %v, want [500040 600050]", values)
		}
	})
}
