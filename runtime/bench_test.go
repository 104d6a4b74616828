package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	amqp "github.com/rabbitmq/amqp091-go"
)

// benchPrefetch is the prefetch of the plain relays. The runtime's nodes
// run with the defaults a user gets: no prefetch set, an adaptive window.
const benchPrefetch = 256

var (
	hopRounds   = flag.Int("hop.rounds", 9, "BenchmarkHop: rounds; each runs every contender once, in a fresh vhost")
	hopOnly     = flag.String("hop.only", "", "BenchmarkHop: run only this contender (relay-batched, relay-pipelined, runtime, runtime-console, runtime-otlp or relay-sync), e.g. to profile it")
	hopSyncPart = flag.Int("hop.syncdiv", 10, "BenchmarkHop: relay-sync handles b.N/hop.syncdiv messages per round (it is slow)")
)

// hopContender is one way of doing the hop, measured in every round.
type hopContender struct {
	name string
	hop  hopFunc
	div  int       // handles b.N/div messages per round
	n    int       // messages per round
	rate []float64 // msgs/s, one per round
	cpu  []float64 // CPU time per message in µs (user + system), one per round
}

// BenchmarkHop measures one process hop (consume from "in", handle, publish
// persistently to "out" with publisher confirms, ack after the confirm) on
// the real broker, six ways:
//
//   - relay-batched, the reference: the best relay of the same correct work
//     written by hand on amqp091-go (prefetch 256, confirms pipelined in a
//     FIFO, acks with multiple=true per 64 confirmed inputs or when the
//     FIFO runs empty);
//   - relay-pipelined: the same, acking after each confirmation that finds
//     no other one waiting (the reference of earlier releases);
//   - runtime: a dge process node (decode JSON, call the handler, encode)
//     with the defaults a user gets: no prefetch (an adaptive window) and
//     concurrency 1, tracing off (OTEL_TRACES_EXPORTER unset);
//   - runtime-console: the same node tracing every message with
//     OTEL_TRACES_EXPORTER=console, its spans written to a file;
//   - runtime-otlp: the same node tracing with OTEL_TRACES_EXPORTER=otlp to
//     an OTLP/HTTP receiver in the test that reads and discards them;
//   - relay-sync: plain amqp091-go waiting for each confirm before acking.
//
// Every input carries a traceparent, as in a traced graph. Contenders run
// in the benchmark's own process, one at a time, so the process's rusage
// (user + system) over the timed span, divided by the messages, is each
// one's CPU time per message: on a small machine every microsecond the
// node spends is taken from the broker. (It includes the benchmark's
// polling of "out", a passive declare every 2 ms, the same for everyone.)
// The broker's state drifts during a run (quorum queue logs, memory), so
// one measurement of each, one after the other, favours whichever ran
// first. Instead the contenders are interleaved in -hop.rounds rounds: the
// first five take turns at going first, relay-sync goes last, and every
// contender gets a fresh vhost, deleted at the end of its turn. Each turn
// fills "in" with b.N messages (b.N/-hop.syncdiv for the slow relay-sync),
// then times the hop from the first output to the last, so connection
// set-up is left out. It reports each contender's median msgs/s and CPU
// time per message, the ratio of the runtime's median to relay-batched's
// (the target is ≥ 0.9) and to relay-pipelined's, and
// of each traced runtime's to the untraced one's (the target is ≥ 0.9:
// tracing costs at most 10 %), and logs a table with min and max and the
// per-round ratios. Run it with a fixed count, e.g. -benchtime 20000x
// (make bench).
func BenchmarkHop(b *testing.B) {
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlpSink(b))
	b.Setenv("OTEL_TRACES_SAMPLER", "") // every message is traced
	ref := &hopContender{name: "relay-batched", hop: relayBatched, div: 1}
	relay := &hopContender{name: "relay-pipelined", hop: relayPipelined, div: 1}
	rt := &hopContender{name: "runtime", hop: runtimeHop(nil), div: 1}
	console := &hopContender{name: "runtime-console", hop: runtimeHop(map[string]string{"OTEL_TRACES_EXPORTER": "console"}), div: 1}
	otlp := &hopContender{name: "runtime-otlp", hop: runtimeHop(map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}), div: 1}
	syncR := &hopContender{name: "relay-sync", hop: relaySync, div: max(*hopSyncPart, 1)}
	fast := []*hopContender{ref, relay, rt, console, otlp}
	all := append(slices.Clone(fast), syncR)
	rounds := max(*hopRounds, 1)
	if b.N == 1 {
		rounds = 1 // the framework's probe run: check that it works, quickly
	}
	if *hopOnly != "" {
		i := slices.IndexFunc(all, func(c *hopContender) bool { return c.name == *hopOnly })
		if i < 0 {
			b.Fatalf("-hop.only %q: want relay-batched, relay-pipelined, runtime, runtime-console, runtime-otlp or relay-sync", *hopOnly)
		}
		c := all[i]
		c.n = max(b.N/c.div, 1)
		for i := range rounds {
			benchTurn(b, c, i)
		}
		m := median(c.rate)
		b.ReportMetric(1e9/m, "ns/op")
		b.ReportMetric(m, c.name+"-msgs/s")
		b.ReportMetric(median(c.cpu), c.name+"-cpu-µs/msg")
		return
	}
	var ratios, oldRatios, consoleRatios, otlpRatios []float64
	for i := range rounds {
		// Each of the fast contenders goes first in turn.
		order := append(slices.Clone(fast[i%len(fast):]), fast[:i%len(fast)]...)
		for _, c := range append(order, syncR) {
			c.n = max(b.N/c.div, 1)
			benchTurn(b, c, i)
		}
		ratios = append(ratios, rt.rate[i]/ref.rate[i])
		oldRatios = append(oldRatios, rt.rate[i]/relay.rate[i])
		consoleRatios = append(consoleRatios, console.rate[i]/rt.rate[i])
		otlpRatios = append(otlpRatios, otlp.rate[i]/rt.rate[i])
	}
	if b.N == 1 {
		return
	}

	rm, fm, lm, sm := median(rt.rate), median(ref.rate), median(relay.rate), median(syncR.rate)
	cm, om := median(console.rate), median(otlp.rate)
	b.ReportMetric(1e9/rm, "ns/op") // the runtime's time per message
	b.ReportMetric(rm, "runtime-msgs/s")
	b.ReportMetric(fm, "batched-msgs/s")
	b.ReportMetric(lm, "pipelined-msgs/s")
	b.ReportMetric(sm, "sync-msgs/s")
	b.ReportMetric(rm/fm, "x-batched")
	b.ReportMetric(rm/lm, "x-pipelined")
	b.ReportMetric(median(rt.cpu), "runtime-cpu-µs/msg")
	b.ReportMetric(median(ref.cpu), "batched-cpu-µs/msg")
	b.ReportMetric(cm/rm, "x-console")
	b.ReportMetric(om/rm, "x-otlp")
	var t strings.Builder
	tw := tabwriter.NewWriter(&t, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-16s\t", "contender")
	fmt.Fprintf(tw, "rounds\tmsgs/round\tmedian msgs/s\tmin\tmax\tCPU µs/msg (median)\t\n")
	for _, c := range all {
		fmt.Fprintf(tw, "%-16s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.1f\t\n", c.name, len(c.rate), c.n, median(c.rate), slices.Min(c.rate), slices.Max(c.rate), median(c.cpu))
	}
	_ = tw.Flush()
	// go test keeps 10 lines of a benchmark's log: the table's 7 and 3.
	b.Logf("hop msgs/s, %d interleaved rounds (relay-sync handles 1/%d of the messages: it is slow)\n%s"+
		"runtime/relay-batched: ratio of medians %.2f (target ≥ 0.9), per round min %.2f, median %.2f, max %.2f; CPU per message %.2f× relay-batched's\n"+
		"runtime/relay-pipelined %.2f (per round median %.2f); runtime/relay-sync %.1f×; tracing on: runtime-console/runtime %.2f, runtime-otlp/runtime %.2f (target ≥ 0.9; per round medians %.2f, %.2f)",
		rounds, syncR.div, t.String(), rm/fm, slices.Min(ratios), median(ratios), slices.Max(ratios), median(rt.cpu)/median(ref.cpu),
		rm/lm, median(oldRatios), rm/sm, cm/rm, om/rm, median(consoleRatios), median(otlpRatios))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type hopFunc func(ctx context.Context, t testing.TB, vh brokertest.Vhost, g Graph)

// turnTB is the benchmark's testing.TB for one turn: what registers a
// cleanup through it (the vhost's delete, connections' close) is cleaned up
// at the end of the turn, not of the whole benchmark, so the broker does
// not carry every earlier turn's queues into the next.
type turnTB struct {
	testing.TB
	name     string
	cleanups []func()
}

func (t *turnTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *turnTB) Name() string     { return t.name }

func (t *turnTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

// benchTurn runs contender c once in a fresh vhost: it fills "in" with c.n
// messages, runs the hop until "out" holds them all, and records in c its
// msgs/s and CPU time per message from the first output to the last.
func benchTurn(b *testing.B, c *hopContender, round int) {
	t := &turnTB{TB: b, name: fmt.Sprintf("%s/%s-%d", b.Name(), c.name, round)}
	defer t.cleanup()
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	g := testGraph("bench",
		Start[num]("start", "in"),
		Process[num, num]("hop", benchEdge("in"), func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }, "out"),
		Terminate[num]("out", benchEdge("out")),
	)
	g.Vhost = vh.Name
	if err := brokertest.Declare(conn, g.topologyParams()); err != nil {
		b.Fatal(err)
	}
	fill(b, conn, g.WorkExchange, "in", c.n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); c.hop(ctx, t, vh, g) }()
	first, firstAt := waitCount(b, conn, "out", 1)
	cpu0 := cpuTime(b)
	last, lastAt := waitCount(b, conn, "out", c.n)
	cpu := cpuTime(b) - cpu0
	cancel()
	<-done
	if last > first {
		c.rate = append(c.rate, float64(last-first)/lastAt.Sub(firstAt).Seconds())
		c.cpu = append(c.cpu, float64(cpu)/float64(last-first)/float64(time.Microsecond))
		return
	}
	// Everything came at once (a tiny c.n).
	c.rate = append(c.rate, float64(last)/lastAt.Sub(start).Seconds())
	c.cpu = append(c.cpu, 0)
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// fill publishes n messages to queue with pipelined confirms.
func fill(b *testing.B, conn *amqp.Connection, exchange, queue string, n int) {
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
		body, _ := json.Marshal(num{i})
		dc, err := ch.PublishWithDeferredConfirm(exchange, queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: strconv.Itoa(i), Body: body,
			Headers: amqp.Table{HeaderRunID: strconv.Itoa(i), HeaderTraceParent: fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)},
		})
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, dc)
		if len(pending) == 512 {
			for _, p := range pending {
				if !p.Wait() {
					b.Fatal("fill: nack")
				}
			}
			pending = pending[:0]
		}
	}
	for _, p := range pending {
		if !p.Wait() {
			b.Fatal("fill: nack")
		}
	}
}

// waitCount waits until queue holds at least n ready messages, and returns
// how many it holds and when it saw them.
func waitCount(b *testing.B, conn *amqp.Connection, queue string, n int) (int, time.Time) {
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		if q.Messages >= n {
			return q.Messages, time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s holds %d of %d messages after 10 minutes", queue, q.Messages, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runtimeHop returns the runtime's hop with the environment extra
// (OTEL_*: tracing). Its stderr, with the console exporter's spans, goes to
// a file.
func runtimeHop(extra map[string]string) hopFunc {
	return func(ctx context.Context, b testing.TB, vh brokertest.Vhost, g Graph) {
		env := func(k string) string {
			switch k {
			case "DGE_AMQP_URL":
				return vh.AMQPURL
			case "DGE_CONNECTION_NAME":
				return b.Name()
			case "DGE_LOG":
				return "error"
			}
			return extra[k]
		}
		f, err := os.CreateTemp("", "dge-hop-*.log")
		if err != nil {
			b.Fatal(err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if code := run(ctx, g, []string{"hop"}, env, strings.NewReader(""), io.Discard, f); code != 0 {
			out, _ := os.ReadFile(f.Name())
			b.Errorf("runtime hop exited %d: %s", code, out)
		}
	}
}

// otlpSink starts an OTLP/HTTP receiver that reads every export and
// discards it, and returns its URL.
func otlpSink(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// relayPipelined is the plain amqp091-go relay the runtime is measured
// against: the same JSON work, persistent mandatory publishes with
// pipelined confirms, each input acked (multiple, in order) after its
// output's confirm.
func relayPipelined(ctx context.Context, b testing.TB, vh brokertest.Vhost, g Graph) {
	relayPipelinedQueues(ctx, b, vh.Dial(b), g, "in", "out")
}

// relayPipelinedQueues is relayPipelined from queue in to queue out, on a
// channel of its own on conn.
func relayPipelinedQueues(ctx context.Context, b testing.TB, conn *amqp.Connection, g Graph, in, out string) {
	ch, deliveries := relayChannel(b, conn, in)
	type pending struct {
		tag uint64
		dc  *amqp.DeferredConfirmation
	}
	acks := make(chan pending, benchPrefetch)
	var wg sync.WaitGroup
	wg.Go(func() {
		for p := range acks {
			if !p.dc.Wait() {
				b.Error("relay: nack")
				return
			}
			// Ack everything confirmed so far in one frame.
			last := p.tag
		more:
			for {
				select {
				case q, ok := <-acks:
					if !ok {
						break more
					}
					if !q.dc.Wait() {
						b.Error("relay: nack")
						return
					}
					last = q.tag
				default:
					break more
				}
			}
			if err := ch.Ack(last, true); err != nil {
				return
			}
		}
	})
	defer func() { close(acks); wg.Wait() }()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-deliveries:
			dc, err := relayHop(ctx, b, ch, g, d, out)
			if err != nil {
				return
			}
			acks <- pending{d.DeliveryTag, dc}
		}
	}
}

// relayBatched is the best relay of the hop written by hand on amqp091-go,
// the runtime's reference: prefetch 256, every output published with a
// deferred confirmation into a FIFO, and the inputs acknowledged with
// multiple=true once 64 of them are confirmed, or when the FIFO runs empty
// (so the last ones do not wait). One goroutine does everything: it
// takes a delivery or the oldest confirmation, whichever comes first.
func relayBatched(ctx context.Context, b testing.TB, vh brokertest.Vhost, g Graph) {
	relayBatchedQueues(ctx, b, vh.Dial(b), g, "in", "out")
}

// relayAckBatch is how many confirmed inputs relayBatched acknowledges in
// one frame while more confirmations are pending.
const relayAckBatch = 64

// relayBatchedQueues is relayBatched from queue in to queue out, on a
// channel of its own on conn.
func relayBatchedQueues(ctx context.Context, b testing.TB, conn *amqp.Connection, g Graph, in, out string) {
	ch, deliveries := relayChannel(b, conn, in)
	type pending struct {
		tag uint64
		dc  *amqp.DeferredConfirmation
	}
	fifo := make([]pending, 0, benchPrefetch)
	var last uint64 // the last input confirmed and not yet acknowledged
	confirmed := 0  // how many inputs up to last
	for {
		var oldest <-chan struct{}
		if len(fifo) > 0 {
			oldest = fifo[0].dc.Done()
		}
		select {
		case <-ctx.Done():
			return
		case d := <-deliveries:
			dc, err := relayHop(ctx, b, ch, g, d, out)
			if err != nil {
				return
			}
			fifo = append(fifo, pending{d.DeliveryTag, dc})
		case <-oldest:
		}
		// Take every confirmation that has arrived, in order.
		for len(fifo) > 0 && resolved(fifo[0].dc) {
			if !fifo[0].dc.Acked() {
				b.Error("relay: nack")
				return
			}
			last = fifo[0].tag
			confirmed++
			fifo = fifo[1:]
		}
		if confirmed >= relayAckBatch || (confirmed > 0 && len(fifo) == 0) {
			if err := ch.Ack(last, true); err != nil {
				return
			}
			confirmed = 0
		}
	}
}

// resolved reports whether dc's confirmation has arrived.
func resolved(dc *amqp.DeferredConfirmation) bool {
	select {
	case <-dc.Done():
		return true
	default:
		return false
	}
}

// relaySync is the same relay waiting for each confirm before its ack.
func relaySync(ctx context.Context, b testing.TB, vh brokertest.Vhost, g Graph) {
	conn := vh.Dial(b)
	ch, deliveries := relayChannel(b, conn, "in")
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-deliveries:
			dc, err := relayHop(ctx, b, ch, g, d, "out")
			if err != nil || !dc.Wait() {
				return
			}
			if err := d.Ack(false); err != nil {
				return
			}
		}
	}
}

func relayChannel(b testing.TB, conn *amqp.Connection, queue string) (*amqp.Channel, <-chan amqp.Delivery) {
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	if err := ch.Qos(benchPrefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ch, ds
}

// relayHop is the relays' work on delivery d: decode, add one, encode,
// and publish the result to queue out with a deferred confirmation. An
// error ends the relay.
func relayHop(ctx context.Context, b testing.TB, ch *amqp.Channel, g Graph, d amqp.Delivery, out string) (*amqp.DeferredConfirmation, error) {
	body, ok := relayWork(b, d.Body)
	if !ok {
		return nil, errors.New("relay: bad input")
	}
	return ch.PublishWithDeferredConfirmWithContext(ctx, g.WorkExchange, out, true, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: d.MessageId + "-" + out,
		Headers: amqp.Table{HeaderRunID: d.Headers[HeaderRunID]}, Body: body,
	})
}

// relayWork is the relays' handler: decode, add one, encode.
func relayWork(b testing.TB, body []byte) ([]byte, bool) {
	var n num
	if err := json.Unmarshal(body, &n); err != nil {
		b.Error(err)
		return nil, false
	}
	out, err := json.Marshal(num{n.Value + 1})
	if err != nil {
		b.Error(err)
		return nil, false
	}
	return out, true
}
