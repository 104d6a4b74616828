package runtime

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/e2e/declare"
	amqp "github.com/rabbitmq/amqp091-go"
)

// benchPrefetch is the prefetch of every contender: the runtime's node and
// both plain relays.
const benchPrefetch = 256

// BenchmarkHop measures one process hop (consume from "in", handle, publish
// persistently to "out" with publisher confirms, ack after the confirm) on
// the real broker, three ways in one run:
//
//   - relay-pipelined: plain amqp091-go doing the same correct work, with
//     confirms pipelined and acks sent in order after them;
//   - runtime: a dge process node (decode JSON, call the handler, encode);
//   - relay-sync: plain amqp091-go waiting for each confirm before acking.
//
// Each reports msgs/s; runtime also reports its ratio to relay-pipelined
// (the target is ≥ 0.9) and relay-sync its ratio to the runtime. Run it
// with a fixed count, e.g. -benchtime 10000x (make bench).
func BenchmarkHop(b *testing.B) {
	var relay, rt float64
	b.Run("relay-pipelined", func(b *testing.B) {
		relay = benchHop(b, relayPipelined)
	})
	b.Run("runtime", func(b *testing.B) {
		rt = benchHop(b, runtimeHop)
		if relay > 0 && b.N > 1 {
			b.ReportMetric(rt/relay, "x-relay")
			b.Logf("runtime %.0f msgs/s, plain pipelined relay %.0f msgs/s: ratio %.2f (target ≥ 0.9)", rt, relay, rt/relay)
		}
	})
	b.Run("relay-sync", func(b *testing.B) {
		s := benchHop(b, relaySync)
		if s > 0 && rt > 0 && b.N > 1 {
			b.ReportMetric(rt/s, "runtime-x")
			b.Logf("relay waiting for each confirm %.0f msgs/s: the runtime is %.1f× faster", s, rt/s)
		}
	})
}

type hopFunc func(ctx context.Context, b *testing.B, vh brokertest.Vhost, g Graph)

// benchHop fills "in" with b.N messages, runs the hop until "out" holds
// them all, and returns msgs/s.
func benchHop(b *testing.B, hop hopFunc) float64 {
	vh := brokertest.NewVhost(b)
	conn := vh.Dial(b)
	g := testGraph("bench",
		Start[num]("start", "in"),
		Process[num, num]("hop", Edge{Queue: "in", Message: "num", Retry: time.Second, MaxAttempts: 5, Prefetch: benchPrefetch, Concurrency: 1},
			func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }, "out"),
		Terminate[num]("out", Edge{Queue: "out", Message: "num", Retry: time.Second, MaxAttempts: 5, Prefetch: benchPrefetch, Concurrency: 1}),
	)
	g.Vhost = vh.Name
	if err := declare.Declare(conn, specOf(g)); err != nil {
		b.Fatal(err)
	}
	fill(b, conn, g.WorkExchange, "in", b.N)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); hop(ctx, b, vh, g) }()
	waitCount(b, conn, "out", b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	return rate
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
			Headers: amqp.Table{HeaderRunID: strconv.Itoa(i)},
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

// waitCount waits until queue holds n ready messages.
func waitCount(b *testing.B, conn *amqp.Connection, queue string, n int) {
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
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s holds %d of %d messages after 10 minutes", queue, q.Messages, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runtimeHop(ctx context.Context, b *testing.B, vh brokertest.Vhost, g Graph) {
	env := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return vh.AMQPURL
		case "DGE_CONNECTION_NAME":
			return b.Name()
		case "DGE_LOG":
			return "error"
		}
		return ""
	}
	var errb strings.Builder
	if code := run(ctx, g, []string{"hop"}, env, strings.NewReader(""), io.Discard, &errb); code != 0 {
		b.Errorf("runtime hop exited %d: %s", code, errb.String())
	}
}

// relayPipelined is the plain amqp091-go relay the runtime is measured
// against: the same JSON work, persistent mandatory publishes with
// pipelined confirms, each input acked (multiple, in order) after its
// output's confirm.
func relayPipelined(ctx context.Context, b *testing.B, vh brokertest.Vhost, g Graph) {
	conn := vh.Dial(b)
	ch, deliveries := relayChannel(b, conn)
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
			body, ok := relayWork(b, d.Body)
			if !ok {
				return
			}
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, g.WorkExchange, "out", true, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: d.MessageId + "-out",
				Headers: amqp.Table{HeaderRunID: d.Headers[HeaderRunID]}, Body: body,
			})
			if err != nil {
				return
			}
			acks <- pending{d.DeliveryTag, dc}
		}
	}
}

// relaySync is the same relay waiting for each confirm before its ack.
func relaySync(ctx context.Context, b *testing.B, vh brokertest.Vhost, g Graph) {
	conn := vh.Dial(b)
	ch, deliveries := relayChannel(b, conn)
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-deliveries:
			body, ok := relayWork(b, d.Body)
			if !ok {
				return
			}
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, g.WorkExchange, "out", true, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: d.MessageId + "-out",
				Headers: amqp.Table{HeaderRunID: d.Headers[HeaderRunID]}, Body: body,
			})
			if err != nil || !dc.Wait() {
				return
			}
			if err := d.Ack(false); err != nil {
				return
			}
		}
	}
}

func relayChannel(b *testing.B, conn *amqp.Connection) (*amqp.Channel, <-chan amqp.Delivery) {
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
	ds, err := ch.Consume("in", "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ch, ds
}

// relayWork is the relays' handler: decode, add one, encode.
func relayWork(b *testing.B, body []byte) ([]byte, bool) {
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
