package runtime

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The benchmarks of whole graphs, beside BenchmarkHop: a 3-hop pipeline
// against hand-written relays, the fairness of slow handlers between
// instances, and an aggregate's join against a process node. Every runtime
// node runs with the defaults a user gets (benchEdge: no prefetch, so an
// adaptive window, and concurrency 1).

var (
	pipeRounds     = flag.Int("pipe.rounds", 5, "BenchmarkPipeline: rounds; each runs both contenders, in fresh vhosts")
	fairRounds     = flag.Int("fair.rounds", 3, "BenchmarkFairness: rounds; each runs both scenarios, in fresh vhosts")
	fairN          = flag.Int("fair.n", 600, "BenchmarkFairness: messages of the three-instance scenario")
	fairSingle     = flag.Int("fair.single", 200, "BenchmarkFairness: messages of the single-instance scenario")
	diaRounds      = flag.Int("diamond.rounds", 3, "BenchmarkDiamond: rounds; each runs both contenders, in fresh vhosts")
	diaRuns        = flag.Int("diamond.runs", 5000, "BenchmarkDiamond: runs per contender and round")
	diaOnly        = flag.String("diamond.only", "", "BenchmarkDiamond: run only this contender (aggregate, process, aggregate-alone or process-alone), e.g. to profile it")
	benchNodeFlags = flag.String("bench.nodeflags", "", "BenchmarkPipeline, Fairness, Diamond: flags for the runtime's node commands (default none: the defaults a user gets), e.g. \"-prefetch 256\" to compare")
)

// benchEdge is an edge with the delivery defaults a user gets.
func benchEdge(queue string) Edge {
	return Edge{Queue: queue, Message: "num", Retry: time.Second, MaxAttempts: 5}
}

// graphContender is one contender of a graph benchmark: run runs it in a
// fresh vhost and returns its rate.
type graphContender struct {
	name string
	run  func(b *testing.B, round int) float64
	rate []float64
}

// interleave runs every contender once per round, each going first in
// turn, and returns them with their rates.
func interleave(b *testing.B, rounds int, cs ...*graphContender) {
	for i := range rounds {
		k := i % len(cs)
		for _, c := range append(slices.Clone(cs[k:]), cs[:k]...) {
			c.rate = append(c.rate, c.run(b, i))
		}
	}
}

// rateTable logs each contender's median, min and max rate (unit: what is
// counted per second), and the ratio of each per-round rate of a to b.
func rateTable(unit string, cs ...*graphContender) string {
	var t strings.Builder
	fmt.Fprintf(&t, "%-24s %6s %14s %10s %10s\n", "contender", "rounds", "median "+unit, "min", "max")
	for _, c := range cs {
		fmt.Fprintf(&t, "%-24s %6d %14.0f %10.0f %10.0f\n", c.name, len(c.rate), median(c.rate), slices.Min(c.rate), slices.Max(c.rate))
	}
	return t.String()
}

func roundRatios(a, b *graphContender) []float64 {
	r := make([]float64, len(a.rate))
	for i := range r {
		r[i] = a.rate[i] / b.rate[i]
	}
	return r
}

// newBenchVhost makes a fresh vhost holding g's topology for one turn.
func newBenchVhost(b *testing.B, name string, g *Graph) (*turnTB, brokertest.Vhost, *amqp.Connection) {
	t := &turnTB{TB: b, name: b.Name() + "/" + name}
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	g.Vhost = vh.Name
	if err := brokertest.Declare(conn, g.topologyParams()); err != nil {
		t.cleanup()
		b.Fatal(err)
	}
	return t, vh, conn
}

// runProgram runs g's program with args (a node command, or publish with
// stdin) until ctx ends or it exits.
func runProgram(ctx context.Context, b testing.TB, vh brokertest.Vhost, g Graph, args []string, stdin string) {
	env := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return vh.AMQPURL
		case "DGE_CONNECTION_NAME":
			return b.Name() + " " + args[0]
		case "DGE_LOG":
			return "error"
		}
		return ""
	}
	if args[0] != "publish" {
		args = append(args, strings.Fields(*benchNodeFlags)...)
	}
	var errb strings.Builder
	if code := run(ctx, g, args, env, strings.NewReader(stdin), io.Discard, &errb); code != 0 && ctx.Err() == nil {
		b.Errorf("%s exited %d: %s", strings.Join(args, " "), code, errb.String())
	}
}

// pipeGraph is start → a → b → c → out, each process adding one.
func pipeGraph() Graph {
	inc := func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }
	return testGraph("pipe",
		Start[num]("start", "in"),
		Process[num, num]("a", benchEdge("in"), inc, "ab"),
		Process[num, num]("b", benchEdge("ab"), inc, "bc"),
		Process[num, num]("c", benchEdge("bc"), inc, "out"),
		Terminate[num]("out", benchEdge("out")),
	)
}

// BenchmarkPipeline measures a 3-hop graph end to end, producer included:
// b.N runs published to start while start → a → b → c → out runs, timed
// from the first publish until out holds every result. Contenders:
//
//   - runtime: the program's publish command (b.N lines on stdin) and its
//     all -nodes a,b,c, with default flags;
//   - relays-batched, the reference: a plain amqp091-go producer with
//     pipelined confirms and three of BenchmarkHop's relay-batched (prefetch
//     256, multiple acks per 64 confirmed inputs) on one connection;
//   - relays-pipelined: the same with BenchmarkHop's relay-pipelined.
//
// It reports the medians and the ratios of the runtime's to each (the
// target is ≥ 0.9 of relays-batched).
// Run it with a fixed count, e.g. -benchtime 20000x (make bench).
func BenchmarkPipeline(b *testing.B) {
	n := b.N
	rounds := max(*pipeRounds, 1)
	if n == 1 {
		rounds = 1
	}
	turn := func(name string, hop func(ctx context.Context, t testing.TB, vh brokertest.Vhost, g Graph)) func(b *testing.B, round int) float64 {
		return func(b *testing.B, round int) float64 {
			g := pipeGraph()
			t, vh, conn := newBenchVhost(b, fmt.Sprintf("%s-%d", name, round), &g)
			defer t.cleanup()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			start := time.Now()
			wg.Go(func() { hop(ctx, t, vh, g) })
			last, lastAt := waitCount(b, conn, "out", n)
			cancel()
			wg.Wait()
			return float64(last) / lastAt.Sub(start).Seconds()
		}
	}
	rt := &graphContender{name: "runtime", run: turn("runtime", func(ctx context.Context, t testing.TB, vh brokertest.Vhost, g Graph) {
		var lines strings.Builder
		for i := range n {
			fmt.Fprintf(&lines, "{\"value\":%d}\n", i)
		}
		var wg sync.WaitGroup
		wg.Go(func() { runProgram(ctx, t, vh, g, []string{"all", "-nodes", "a,b,c"}, "") })
		wg.Go(func() { runProgram(ctx, t, vh, g, []string{"publish", "start"}, lines.String()) })
		wg.Wait()
	})}
	relaysOf := func(relay func(ctx context.Context, b testing.TB, conn *amqp.Connection, g Graph, in, out string)) func(ctx context.Context, t testing.TB, vh brokertest.Vhost, g Graph) {
		return func(ctx context.Context, t testing.TB, vh brokertest.Vhost, g Graph) {
			conn := vh.Dial(t)
			var wg sync.WaitGroup
			for _, hop := range [][2]string{{"in", "ab"}, {"ab", "bc"}, {"bc", "out"}} {
				wg.Go(func() { relay(ctx, t, conn, g, hop[0], hop[1]) })
			}
			wg.Go(func() { produce(ctx, t, vh.Dial(t), g.WorkExchange, "in", n) })
			wg.Wait()
		}
	}
	batched := &graphContender{name: "relays-batched", run: turn("relays-batched", relaysOf(relayBatchedQueues))}
	pipelined := &graphContender{name: "relays-pipelined", run: turn("relays-pipelined", relaysOf(relayPipelinedQueues))}
	interleave(b, rounds, rt, batched, pipelined)
	if n == 1 {
		return
	}
	rm, fm, lm := median(rt.rate), median(batched.rate), median(pipelined.rate)
	b.ReportMetric(1e9/rm, "ns/op")
	b.ReportMetric(rm, "runtime-runs/s")
	b.ReportMetric(fm, "batched-runs/s")
	b.ReportMetric(lm, "pipelined-runs/s")
	b.ReportMetric(rm/fm, "x-batched")
	b.ReportMetric(rm/lm, "x-pipelined")
	r := roundRatios(rt, batched)
	b.Logf("3-hop pipeline, producer included, runs/s, %d interleaved rounds of %d runs\n%s"+
		"runtime/relays-batched: ratio of medians %.2f (target ≥ 0.9); per round min %.2f, median %.2f, max %.2f\n"+
		"runtime/relays-pipelined: ratio of medians %.2f; per round median %.2f",
		rounds, n, rateTable("runs/s", rt, batched, pipelined), rm/fm, slices.Min(r), median(r), slices.Max(r),
		rm/lm, median(roundRatios(rt, pipelined)))
}

// produce publishes n messages to queue with a sliding window of 512
// pipelined confirms, as a hand-written producer would, until ctx ends.
func produce(ctx context.Context, b testing.TB, conn *amqp.Connection, exchange, queue string, n int) {
	ch, err := conn.Channel()
	if err != nil {
		b.Error(err)
		return
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		b.Error(err)
		return
	}
	pending := make(chan *amqp.DeferredConfirmation, 512)
	var wg sync.WaitGroup
	wg.Go(func() {
		for dc := range pending {
			if !dc.Wait() {
				b.Error("produce: nack")
				return
			}
		}
	})
	defer func() { close(pending); wg.Wait() }()
	for i := range n {
		id := fmt.Sprint("p", i)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: id,
			Headers: amqp.Table{HeaderRunID: id}, Body: fmt.Appendf(nil, `{"value":%d}`, i),
		})
		if err != nil {
			return
		}
		pending <- dc
	}
}

// fairHandler is the fairness benchmarks' 20 ms handler.
const fairHandler = 20 * time.Millisecond

// fairGraph is start → work → out, work's handler sleeping fairHandler and
// counting its calls in *calls, noting when the first call began in *first.
func fairGraph(calls *atomic.Int64, first *atomic.Int64) Graph {
	return testGraph("fair",
		Start[num]("start", "in"),
		Process[num, num]("work", benchEdge("in"), func(_ context.Context, n num) (num, error) {
			first.CompareAndSwap(0, time.Now().UnixNano())
			time.Sleep(fairHandler)
			calls.Add(1)
			return n, nil
		}, "out"),
		Terminate[num]("out", benchEdge("out")),
	)
}

// BenchmarkFairness measures how slow handlers share a backlog with default
// flags, in two scenarios per round:
//
//   - three: -fair.n messages for a 20 ms handler; one instance, and two
//     more joining 1 s after it began handling. Each should handle 22–45 %
//     and all finish within 1.5× the ideal time: 1 s alone, then the rest
//     shared by three;
//   - single: -fair.single messages for one instance, within 1.1× of
//     n × 20 ms.
//
// Each instance is its own program run, with its own connection, as
// separate processes would be. Run it with -benchtime 1x (make bench).
func BenchmarkFairness(b *testing.B) {
	rounds := max(*fairRounds, 1)
	var shares [3][]float64
	three := &graphContender{name: "three instances", run: func(b *testing.B, round int) float64 {
		var calls [3]atomic.Int64
		var first, unused atomic.Int64
		g := fairGraph(&calls[0], &first)
		t, vh, conn := newBenchVhost(b, fmt.Sprint("three-", round), &g)
		defer t.cleanup()
		fill(b, conn, g.WorkExchange, "in", *fairN)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { runProgram(ctx, t, vh, g, []string{"work"}, "") })
		for first.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		began := time.Unix(0, first.Load())
		time.Sleep(time.Until(began.Add(time.Second)))
		for i := 1; i < 3; i++ {
			gi := fairGraph(&calls[i], &unused)
			gi.Vhost = g.Vhost
			wg.Go(func() { runProgram(ctx, t, vh, gi, []string{"work"}, "") })
		}
		_, lastAt := waitCount(b, conn, "out", *fairN)
		cancel()
		wg.Wait()
		for i := range calls {
			shares[i] = append(shares[i], float64(calls[i].Load())/float64(*fairN))
		}
		alone := float64(time.Second / fairHandler)
		ideal := time.Second + time.Duration((float64(*fairN)-alone)/3*float64(fairHandler))
		return float64(lastAt.Sub(began)) / float64(ideal)
	}}
	single := &graphContender{name: "single instance", run: func(b *testing.B, round int) float64 {
		var calls, first atomic.Int64
		g := fairGraph(&calls, &first)
		t, vh, conn := newBenchVhost(b, fmt.Sprint("single-", round), &g)
		defer t.cleanup()
		fill(b, conn, g.WorkExchange, "in", *fairSingle)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { runProgram(ctx, t, vh, g, []string{"work"}, "") })
		_, lastAt := waitCount(b, conn, "out", *fairSingle)
		cancel()
		wg.Wait()
		ideal := time.Duration(*fairSingle) * fairHandler
		return float64(lastAt.Sub(time.Unix(0, first.Load()))) / float64(ideal)
	}}
	interleave(b, rounds, three, single)
	tm, sm := median(three.rate), median(single.rate)
	b.ReportMetric(tm, "three-x-ideal")
	b.ReportMetric(sm, "single-x-ideal")
	var t strings.Builder
	fmt.Fprintf(&t, "%-16s %6s %16s %8s %8s\n", "scenario", "rounds", "median × ideal", "min", "max")
	for _, c := range []*graphContender{three, single} {
		fmt.Fprintf(&t, "%-16s %6d %16.2f %8.2f %8.2f\n", c.name, len(c.rate), median(c.rate), slices.Min(c.rate), slices.Max(c.rate))
	}
	var sh []string
	for i, s := range shares {
		sh = append(sh, fmt.Sprintf("instance %d: median %.0f %% (min %.0f, max %.0f)", i+1, 100*median(s), 100*slices.Min(s), 100*slices.Max(s)))
	}
	b.Logf("fairness of a %s handler, %d interleaved rounds: %d messages, one instance then two more 1 s later; %d messages, one instance\n%s"+
		"shares (target 22–45 %% each): %s\n"+
		"targets: three instances ≤ 1.5× ideal (1 s alone, then the rest shared by three), single instance ≤ 1.1× n × %s",
		fairHandler, rounds, *fairN, *fairSingle, t.String(), strings.Join(sh, "; "), fairHandler)
}

// benchDiamond is start → fan (fan_out) → a, b, c (process) → join →
// out, join an aggregate of the three, or (asProcess) a process node.
func benchDiamond(asProcess bool) Graph {
	inc := func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }
	join := Aggregate[num, num]("join", benchEdge("join"), []string{"process.a", "process.b", "process.c"}, time.Minute,
		func(_ context.Context, parts []num) (num, error) {
			s := 0
			for _, p := range parts {
				s += p.Value
			}
			return num{s}, nil
		}, "out")
	if asProcess {
		join = Process[num, num]("join", benchEdge("join"), inc, "out")
	}
	return testGraph("diamond",
		Start[num]("start", "in"),
		FanOut[num]("fan", benchEdge("in"), "ta", "tb", "tc"),
		Process[num, num]("a", benchEdge("ta"), inc, "join"),
		Process[num, num]("b", benchEdge("tb"), inc, "join"),
		Process[num, num]("c", benchEdge("tc"), inc, "join"),
		join,
		Terminate[num]("out", benchEdge("out")),
	)
}

// BenchmarkDiamond measures a diamond graph, start → fan (fan_out) → a, b,
// c → join → out, with default flags: -diamond.runs runs published to
// start beforehand, then every node run by one program, timed until out
// holds every result. Contenders: join an aggregate of a, b and c (one
// result per run), and join a process node (one result per part, three per
// run); and each join alone, its queue filled with the parts beforehand,
// which shows where the join's own ceiling lies, the aggregate twice: as
// it is, and acking each part in a frame of its own, as it did before its
// acker was eager (see acker.eager). It reports runs/s, the ratio
// aggregate/process (the target is ≥ 0.8) and the ratio of the two
// aggregates alone (the goal is ≥ 1.5). Run it with -benchtime 1x (make
// bench).
func BenchmarkDiamond(b *testing.B) {
	runs := *diaRuns
	rounds := max(*diaRounds, 1)
	turn := func(name string, asProcess bool) func(b *testing.B, round int) float64 {
		return func(b *testing.B, round int) float64 {
			g := benchDiamond(asProcess)
			t, vh, conn := newBenchVhost(b, fmt.Sprintf("%s-%d", name, round), &g)
			defer t.cleanup()
			fill(b, conn, g.WorkExchange, "in", runs) // a run ID each
			want := runs
			if asProcess {
				want = 3 * runs
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			start := time.Now()
			wg.Go(func() { runProgram(ctx, t, vh, g, []string{"all"}, "") })
			_, lastAt := waitCount(b, conn, "out", want)
			cancel()
			wg.Wait()
			return float64(runs) / lastAt.Sub(start).Seconds()
		}
	}
	// The join alone: its queue filled with every run's three parts
	// beforehand, only the join node running.
	alone := func(name string, asProcess, acksAlone bool) func(b *testing.B, round int) float64 {
		return func(b *testing.B, round int) float64 {
			aggregateAcksAlone = acksAlone
			defer func() { aggregateAcksAlone = false }()
			g := benchDiamond(asProcess)
			t, vh, conn := newBenchVhost(b, fmt.Sprintf("%s-%d", name, round), &g)
			defer t.cleanup()
			fillParts(b, conn, g.WorkExchange, "join", runs, []string{"process.a", "process.b", "process.c"})
			want := runs
			if asProcess {
				want = 3 * runs
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			start := time.Now()
			wg.Go(func() { runProgram(ctx, t, vh, g, []string{"join"}, "") })
			_, lastAt := waitCount(b, conn, "out", want)
			cancel()
			wg.Wait()
			return float64(runs) / lastAt.Sub(start).Seconds()
		}
	}
	agg := &graphContender{name: "join: aggregate", run: turn("aggregate", false)}
	proc := &graphContender{name: "join: process", run: turn("process", true)}
	aggAlone := &graphContender{name: "aggregate alone", run: alone("aggregate-alone", false, false)}
	oldAlone := &graphContender{name: "aggregate alone, acks 1×1", run: alone("aggregate-alone-acks-1x1", false, true)}
	procAlone := &graphContender{name: "process alone", run: alone("process-alone", true, false)}
	if *diaOnly != "" {
		c := map[string]*graphContender{"aggregate": agg, "process": proc, "aggregate-alone": aggAlone, "aggregate-alone-acks-1x1": oldAlone, "process-alone": procAlone}[*diaOnly]
		if c == nil {
			b.Fatalf("-diamond.only %q: want aggregate, process, aggregate-alone, aggregate-alone-acks-1x1 or process-alone", *diaOnly)
		}
		interleave(b, rounds, c)
		b.ReportMetric(median(c.rate), strings.ReplaceAll(c.name, " ", "-")+"-runs/s")
		return
	}
	interleave(b, rounds, agg, proc, aggAlone, oldAlone, procAlone)
	am, pm := median(agg.rate), median(proc.rate)
	b.ReportMetric(am, "aggregate-runs/s")
	b.ReportMetric(pm, "process-runs/s")
	b.ReportMetric(am/pm, "x-process")
	b.ReportMetric(median(aggAlone.rate), "aggregate-alone-runs/s")
	b.ReportMetric(median(aggAlone.rate)/median(oldAlone.rate), "x-acks-1x1")
	r := roundRatios(agg, proc)
	ra := roundRatios(aggAlone, oldAlone)
	b.Logf("diamond fan_out → 3 process → join → terminate, %d runs per round, %d interleaved rounds "+
		"(alone: the join's queue filled with the runs' parts beforehand, only the join running)\n%s"+
		"aggregate/process: ratio of medians %.2f (target ≥ 0.8); per round min %.2f, median %.2f, max %.2f\n"+
		"the join's ceiling, aggregate alone/aggregate alone acking each part on its own (as before its acker was eager): "+
		"ratio of medians %.2f (goal ≥ 1.5); per round min %.2f, median %.2f, max %.2f",
		runs, rounds, rateTable("runs/s", agg, proc, aggAlone, oldAlone, procAlone), am/pm, slices.Min(r), median(r), slices.Max(r),
		median(aggAlone.rate)/median(oldAlone.rate), slices.Min(ra), median(ra), slices.Max(ra))
}

// fillParts publishes n runs' parts to queue, one from each of sources per
// run, as the nodes feeding a join would.
func fillParts(b *testing.B, conn *amqp.Connection, exchange, queue string, n int, sources []string) {
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	var pending []*amqp.DeferredConfirmation
	for i := range n {
		for _, src := range sources {
			id := fmt.Sprint(i)
			dc, err := ch.PublishWithDeferredConfirm(exchange, queue, true, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: id + "-" + src,
				Headers: amqp.Table{HeaderRunID: id, HeaderSource: src, HeaderAttempt: int32(1)}, Body: fmt.Appendf(nil, `{"value":%d}`, i),
			})
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, dc)
		}
		if len(pending) >= 512 || i == n-1 {
			for _, p := range pending {
				if !p.Wait() {
					b.Fatal("fillParts: nack")
				}
			}
			pending = pending[:0]
		}
	}
}
