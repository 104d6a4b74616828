package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func joinGraph(name string, timeout time.Duration) Graph {
	return testGraph(name,
		Start[num]("start", "input"),
		FanOut[num]("split", testEdge("input"), "a_in", "b_in"),
		Process[num, num]("a", testEdge("a_in"), func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }, "join"),
		Process[num, num]("b", testEdge("b_in"), func(_ context.Context, n num) (num, error) { return num{n.Value * 10}, nil }, "join"),
		Aggregate[num, num]("join", testEdge("join"), []string{"process.a", "process.b"}, timeout,
			func(_ context.Context, parts []num) (num, error) {
				if len(parts) != 2 {
					return num{}, Permanent(fmt.Errorf("got %d parts", len(parts)))
				}
				return num{parts[0].Value*100000 + parts[1].Value}, nil // order matters
			}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

func TestAggregateJoinsPartsInFromOrder(t *testing.T) {
	h := newHarness(t, joinGraph("join", time.Minute))
	h.background("all")
	values := make([]int, 200)
	for i := range values {
		values[i] = i
	}
	h.publishNums("start", values...)
	got := h.consumeNums("result", len(values))
	slices.Sort(got)
	for i, v := range got {
		if want := (i+1)*100000 + i*10; v != want {
			t.Fatalf("result %d = %d, want %d", i, v, want)
		}
	}
	h.waitSettled("join")
}

// publishPart publishes an aggregate part as an upstream node would.
func (h *harness) publishPart(queue, runID, source string, value int) {
	h.t.Helper()
	body, _ := json.Marshal(num{value})
	h.publishRaw(queue, body, amqp.Publishing{
		MessageId: runID + "/" + source, CorrelationId: runID,
		Headers: amqp.Table{HeaderRunID: runID, HeaderSource: source},
	})
}

// TestAggregateRotatesWhenWindowFull fills the prefetch window with parts
// whose partners are behind them in the queue: rotation must keep it going.
func TestAggregateRotatesWhenWindowFull(t *testing.T) {
	h := newHarness(t, joinGraph("rotate", time.Minute))
	const runs = 12
	for i := range runs {
		h.publishPart("join", fmt.Sprint("run", i), "process.a", i)
	}
	for i := range runs {
		h.publishPart("join", fmt.Sprint("run", i), "process.b", 10*i)
	}
	h.background("join", "-prefetch", "4")
	got := h.consumeNums("result", runs)
	slices.Sort(got)
	for i, v := range got {
		if want := i*100000 + 10*i; v != want {
			t.Fatalf("result %d = %d, want %d (all %v)", i, v, want, got)
		}
	}
	h.waitSettled("join")
}

func TestAggregateDiscardsDuplicatesAndParksIncompleteGroups(t *testing.T) {
	var mu sync.Mutex
	var failures []Failure
	g := joinGraph("incomplete", 2*time.Second)
	g.OnFailure = func(_ context.Context, f Failure) { mu.Lock(); failures = append(failures, f); mu.Unlock() }
	h := newHarness(t, g)
	h.publishPart("join", "lonely", "process.a", 1)
	h.publishPart("join", "pair", "process.a", 2)
	h.publishPart("join", "pair", "process.a", 2) // duplicate
	h.publishPart("join", "pair", "process.b", 3)
	h.publishPart("join", "stranger", "process.c", 4)
	h.background("join")
	if got := h.consumeNums("result", 1); got[0] != 200003 {
		t.Errorf("result %v, want [200003]", got)
	}
	dead := h.waitMessages("join.dead", 2)
	reasons := map[string]string{}
	for _, d := range dead {
		reasons[fmt.Sprint(d.Headers[HeaderRunID])] = fmt.Sprint(d.Headers[HeaderReason])
	}
	if reasons["lonely"] != "incomplete-group" || reasons["stranger"] != "permanent" {
		t.Errorf("parked reasons by run %v, want lonely: incomplete-group, stranger: permanent", reasons)
	}
	h.waitSettled("join")
	// Each parked run sends one failure record on.
	notices := map[string]string{}
	for _, d := range h.waitMessages("result", 2) {
		notices[fmt.Sprint(d.Headers[HeaderRunID])] = fmt.Sprint(d.Headers[HeaderFailedReason])
	}
	if notices["lonely"] != "incomplete-group" || notices["stranger"] != "permanent" {
		t.Errorf("failure records by run %v, want lonely: incomplete-group, stranger: permanent", notices)
	}
	if n := h.count("result"); n != 0 {
		t.Errorf("%d more results, want none (the duplicate must not make a second group)", n)
	}
}

// TestAggregateDiscardsLateDuplicateOfJoinedRun sends a part again after its
// group was joined and published: it must be acked as a duplicate, not held
// as a new group that ends in Q.dead as incomplete.
func TestAggregateDiscardsLateDuplicateOfJoinedRun(t *testing.T) {
	g := joinGraph("late", 2*time.Second)
	h := newHarness(t, g)
	h.publishPart("join", "pair", "process.a", 2)
	h.publishPart("join", "pair", "process.b", 3)
	h.background("join")
	if got := h.consumeNums("result", 1); got[0] != 200003 {
		t.Fatalf("result %v, want [200003]", got)
	}
	h.waitSettled("join")
	h.publishPart("join", "pair", "process.b", 3) // late duplicate
	// A lonely part sent after it times out after it: once that one is
	// parked, a wrongly held duplicate would have been parked first.
	h.publishPart("join", "lonely", "process.a", 1)
	dead := h.waitMessages("join.dead", 1)
	if run := fmt.Sprint(dead[0].Headers[HeaderRunID]); run != "lonely" {
		t.Errorf("parked run %q first, want only \"lonely\" (the late duplicate of \"pair\" must be discarded)", run)
	}
	h.waitSettled("join")
	if n := h.count("join.dead"); n != 0 {
		t.Errorf("%d more parked messages, want none", n)
	}
	if rec := h.waitMessages("result", 1); rec[0].Headers[HeaderRunID] != "lonely" || rec[0].Headers[HeaderFailedReason] != "incomplete-group" {
		t.Errorf("result queue holds %v, want the failure record of run lonely", rec[0].Headers)
	}
	if n := h.count("result"); n != 0 {
		t.Errorf("%d more results, want none", n)
	}
}

func TestRecentRunsForgetsTheOldest(t *testing.T) {
	r := newRecentRuns(2)
	r.add("a")
	r.add("b")
	r.add("b") // already there: must not evict
	if !r.has("a") || !r.has("b") {
		t.Fatalf("has(a)=%v has(b)=%v, want both", r.has("a"), r.has("b"))
	}
	r.add("c")
	if r.has("a") || !r.has("b") || !r.has("c") {
		t.Errorf("after c: has(a)=%v has(b)=%v has(c)=%v, want false true true", r.has("a"), r.has("b"), r.has("c"))
	}
}

func TestAggregateRetriesTheGroupOnError(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	g := joinGraph("aggretry", time.Minute)
	g.Nodes[4] = Aggregate[num, num]("join", testEdge("join"), []string{"process.a", "process.b"}, time.Minute,
		func(_ context.Context, parts []num) (num, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls < 3 {
				return num{}, fmt.Errorf("failure %d", calls)
			}
			return num{parts[0].Value + parts[1].Value}, nil
		}, "result")
	h := newHarness(t, g)
	h.publishPart("join", "r", "process.a", 1)
	h.publishPart("join", "r", "process.b", 2)
	h.background("join")
	if got := h.consumeNums("result", 1); got[0] != 3 {
		t.Errorf("result %v, want [3]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("handler called %d times, want 3", calls)
	}
}

func pollGraph(name string, interval, timeout time.Duration, handler func(context.Context, num) (num, bool, error)) Graph {
	g := testGraph(name,
		Start[num]("start", "input"),
		Poll[num, num]("check", testEdge("input"), interval, timeout, handler, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	g.PollExchange = name + ".poll"
	return g
}

func TestPollChecksUntilDone(t *testing.T) {
	var mu sync.Mutex
	checks := map[int]int{}
	h := newHarness(t, pollGraph("poll", 200*time.Millisecond, time.Minute, func(_ context.Context, n num) (num, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		checks[n.Value]++
		if checks[n.Value] == 2 && n.Value%2 == 0 {
			return num{}, false, fmt.Errorf("flaky check")
		}
		return num{n.Value * 3}, checks[n.Value] >= 4, nil
	}))
	h.background("check")
	h.publishNums("start", 1, 2, 3, 4)
	got := h.consumeNums("result", 4)
	slices.Sort(got)
	if !slices.Equal(got, []int{3, 6, 9, 12}) {
		t.Errorf("results %v, want [3 6 9 12]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for v, c := range checks {
		if c != 4 {
			t.Errorf("value %d checked %d times, want 4", v, c)
		}
	}
	h.waitSettled("input")
	if n := h.count("input.poll"); n != 0 {
		t.Errorf("input.poll holds %d messages, want 0", n)
	}
}

func TestPollTimesOut(t *testing.T) {
	h := newHarness(t, pollGraph("polltimeout", 200*time.Millisecond, time.Second, func(_ context.Context, n num) (num, bool, error) {
		return num{}, false, nil
	}))
	h.background("check")
	h.publishNums("start", 1)
	d := h.waitMessages("input.dead", 1)[0]
	if d.Headers[HeaderReason] != "timeout" || d.Headers[HeaderPollSince] == nil {
		t.Errorf("parked with reason %v and poll-since %v, want timeout and a time", d.Headers[HeaderReason], d.Headers[HeaderPollSince])
	}
}

// waitHeld waits until queue has no ready message while a connection named
// name is open: its consumer then holds every message of the queue.
func (h *harness) waitHeld(queue, name string) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		conns, err := h.vh.Client.ListConnections()
		if err != nil {
			h.t.Fatalf("list connections: %v", err)
		}
		open := false
		for _, c := range conns {
			open = open || (c.Vhost == h.vh.Name && c.ClientProperties["connection_name"] == name)
		}
		if open && h.count(queue) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("queue %s: its consumer %q does not hold its messages after a minute", queue, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAggregateHeldPartsSurviveLostConnections holds parts at the join
// while one branch is down and loses the aggregate's connection more often
// than the crash threshold allows: a redelivery of a part no handler saw
// must not count toward the crash-loop limit, so every run completes and
// nothing is parked once the branch starts.
func TestAggregateHeldPartsSurviveLostConnections(t *testing.T) {
	g := joinGraph("held", time.Minute)
	h := newHarness(t, g)
	const joinConn = "held join"
	h.background("all", "-nodes", "split,b")
	h.backgroundAs(joinConn, "join")
	values := make([]int, 20)
	for i := range values {
		values[i] = i
	}
	h.publishNums("start", values...)
	closes := crashThreshold(g.DeliveryLimit()) + 3
	for range closes {
		for h.count("b_in") > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		h.waitHeld("join", joinConn)
		h.vh.CloseConnections(t, joinConn)
	}
	h.background("a")
	got := h.consumeNums("result", len(values))
	slices.Sort(got)
	for i, v := range got {
		if want := (i+1)*100000 + i*10; v != want {
			t.Fatalf("result %d = %d, want %d", i, v, want)
		}
	}
	if n := h.count("join.dead"); n != 0 {
		t.Errorf("join.dead holds %d parts after %d lost connections, want 0", n, closes)
	}
	h.waitSettled("join")
}

// TestAggregateCrashLoopIsParked loses the aggregate's connection every
// time its handler runs, as a handler that kills its process would: the
// group is parked with reason delivery-limit after the crash threshold's
// worth of handler calls, and never called again.
func TestAggregateCrashLoopIsParked(t *testing.T) {
	var calls atomic.Int64
	called := make(chan struct{}, 16)
	g := testGraph("joincrash",
		Start[num]("start", "input"),
		FanOut[num]("split", testEdge("input"), "a_in", "b_in"),
		Process[num, num]("a", testEdge("a_in"), double, "join"),
		Process[num, num]("b", testEdge("b_in"), double, "join"),
		Aggregate[num, num]("join", testEdge("join"), []string{"process.a", "process.b"}, time.Minute,
			func(ctx context.Context, parts []num) (num, error) {
				calls.Add(1)
				called <- struct{}{}
				<-ctx.Done() // hangs until its connection is lost, like a crash
				return num{}, ctx.Err()
			}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	h := newHarness(t, g)
	const joinConn = "crash join"
	h.background("all", "-nodes", "split,a,b")
	h.backgroundAs(joinConn, "join")
	h.publishNums("start", 7)
	threshold := crashThreshold(g.DeliveryLimit())
	for range threshold {
		select {
		case <-called:
		case <-time.After(confDeadline):
			t.Fatalf("handler called %d times, want %d before the group is parked", calls.Load(), threshold)
		}
		h.vh.CloseConnections(t, joinConn)
	}
	dead := h.waitMessages("join.dead", 2)
	for _, d := range dead {
		if d.Headers[HeaderReason] != "delivery-limit" {
			t.Errorf("parked part with reason %v, want delivery-limit", d.Headers[HeaderReason])
		}
	}
	if n := calls.Load(); n != int64(threshold) {
		t.Errorf("handler called %d times, want %d", n, threshold)
	}
}

// diamondGraph fans each run out to three branches and joins them again.
func diamondGraph(name string) Graph {
	inc := func(k int) func(context.Context, num) (num, error) {
		return func(_ context.Context, n num) (num, error) { return num{n.Value*10 + k}, nil }
	}
	return testGraph(name,
		Start[num]("start", "input"),
		FanOut[num]("split", testEdge("input"), "a_in", "b_in", "c_in"),
		Process[num, num]("a", testEdge("a_in"), inc(1), "join"),
		Process[num, num]("b", testEdge("b_in"), inc(2), "join"),
		Process[num, num]("c", testEdge("c_in"), inc(3), "join"),
		Aggregate[num, num]("join", testEdge("join"), []string{"process.a", "process.b", "process.c"}, 10*time.Minute,
			func(_ context.Context, parts []num) (num, error) {
				return num{parts[0].Value + parts[1].Value + parts[2].Value}, nil
			}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

// diamondWant is diamondGraph's result for input v.
func diamondWant(v int) int { return 30*v + 6 }

// TestAggregateSkewedBranchCatchesUp publishes 2,000 diamond runs while one
// branch is stopped and starts it five seconds later: the join, whose
// window is full of incomplete groups by then, must take every late part
// as it comes (the skewed run once took 111 s to catch up).
// DGE_DIAMOND_RUNS and DGE_DIAMOND_LATE change the sizes; with
// DGE_DIAMOND_LATE=0s every branch runs from the start (docs/reliability.md's
// RabbitMQ figure beside local's: DGE_DIAMOND_RUNS=50000 DGE_DIAMOND_LATE=0s).
func TestAggregateSkewedBranchCatchesUp(t *testing.T) {
	runs := envInt(t, "DGE_DIAMOND_RUNS", 2000)
	late := 5 * time.Second
	if s := os.Getenv("DGE_DIAMOND_LATE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			t.Fatalf("DGE_DIAMOND_LATE=%q: want a duration", s)
		}
		late = d
	}
	h := newHarness(t, diamondGraph("skew"))
	nodes := "split,a,b,join"
	if late == 0 {
		nodes += ",c"
	}
	h.background("all", "-nodes", nodes)
	values := make([]int, runs)
	for i := range values {
		values[i] = i
	}
	published := time.Now()
	h.publishNums("start", values...)
	start := published
	if late > 0 {
		time.Sleep(late)
		start = time.Now()
		h.background("c")
	}
	wait := time.Minute + time.Duration(runs/500)*time.Second
	code, out, errs := h.exec("", "consume", "result", "-n", fmt.Sprint(runs), "-timeout", wait.String())
	if code != 0 {
		t.Fatalf("consume exited %d: %s", code, errs)
	}
	t.Logf("%d diamond runs done %s after the late branch started (%s after publishing began)",
		runs, time.Since(start).Round(time.Millisecond), time.Since(published).Round(time.Millisecond))
	seen := map[int]bool{}
	for _, line := range strings.Fields(out) {
		var v num
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("result %q: %v", line, err)
		}
		seen[v.Value] = true
	}
	for _, v := range values {
		if !seen[diamondWant(v)] {
			t.Fatalf("no result for input %d", v)
		}
	}
	if n := h.count("join.dead"); n != 0 {
		t.Errorf("join.dead holds %d parts, want 0", n)
	}
}

// TestLocalDiamondRounds runs 2,000 diamond runs through local again and
// again: each round must finish (an in-memory join once stalled for the
// rotation age in about one round of thirty). DGE_LOCAL_DIAMOND_RUNS and
// DGE_LOCAL_DIAMOND_ROUNDS change the sizes (docs/reliability.md's 50,000-run figure:
// DGE_LOCAL_DIAMOND_RUNS=50000 DGE_LOCAL_DIAMOND_ROUNDS=3).
func TestLocalDiamondRounds(t *testing.T) {
	runs, rounds := envInt(t, "DGE_LOCAL_DIAMOND_RUNS", 2000), envInt(t, "DGE_LOCAL_DIAMOND_ROUNDS", 20)
	var in strings.Builder
	for i := range runs {
		fmt.Fprintf(&in, "{\"value\":%d}\n", i)
	}
	for round := range rounds {
		start := time.Now()
		code, out, errs := execLocal(t, diamondGraph("rounds"), in.String(), "-timeout", "5m")
		if code != 0 {
			t.Fatalf("round %d: exit %d: %s", round, code, errs)
		}
		if n := strings.Count(out, "\n"); n != runs {
			t.Fatalf("round %d: %d results, want %d", round, n, runs)
		}
		t.Logf("round %d: %d diamond runs in %s", round, runs, time.Since(start).Round(time.Millisecond))
	}
}

// envInt reads a test size from the environment, or returns def.
func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", key, s)
	}
	return n
}
