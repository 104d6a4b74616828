package runtime

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	amqp "github.com/rabbitmq/amqp091-go"
)

var gatherRounds = flag.Int("gather.rounds", 3, "BenchmarkGatherFold: rounds; each runs the hop and the fold once, each in a fresh vhost")

// BenchmarkGatherFold measures, on the real broker, a fold gather taking
// in one split of b.N items (a sum) against a plain process hop moving
// b.N messages, both with the defaults a user gets (adaptive window), in
// -gather.rounds interleaved rounds, each contender in a fresh vhost with
// its queue filled first. Each time runs from the node's start to its last
// output (the fold's one result, the hop's b.N-th output). It reports the
// median items/s of each, their ratio (the target is ≥ 0.8) and the most
// resident memory the test process had while the fold ran (the target: far
// under 100 MB). Run it with a fixed count, e.g. -benchtime 100000x.
func BenchmarkGatherFold(b *testing.B) {
	n := b.N
	var hop, fold []float64
	var rss atomic.Int64
	for round := range *gatherRounds {
		hop = append(hop, benchGatherTurn(b, round, n, false, nil))
		fold = append(fold, benchGatherTurn(b, round, n, true, &rss))
	}
	hm, fm := median(hop), median(fold)
	b.ReportMetric(1e9/fm, "ns/op")
	b.ReportMetric(hm, "hop-msgs/s")
	b.ReportMetric(fm, "fold-items/s")
	b.ReportMetric(fm/hm, "x-hop")
	b.ReportMetric(float64(rss.Load())/(1<<20), "fold-max-rss-MB")
	b.Logf("%d items: hop %v msgs/s, fold %v items/s; max RSS during the folds %d MB", n, hop, fold, rss.Load()>>20)
}

// benchGatherTurn runs one contender once in a fresh vhost and returns its
// rate; with rss set, it records there the most resident memory seen.
func benchGatherTurn(b *testing.B, round, n int, isFold bool, rss *atomic.Int64) float64 {
	t := &turnTB{TB: b, name: fmt.Sprintf("%s/%v-%d", b.Name(), isFold, round)}
	defer t.cleanup()
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	g := testGraph("gbench",
		Process[num, num]("hop", benchEdge("in"), func(_ context.Context, n num) (num, error) { return num{n.Value + 1}, nil }, "out"),
		Terminate[num]("out", benchEdge("out")),
		Fold[num, num]("sum", benchEdge("sum"), "numbers", time.Hour, nil, sumFold, "result"),
		Terminate[num]("result", benchEdge("result")),
	)
	g.Vhost = vh.Name
	if err := brokertest.Declare(conn, g.topologyParams()); err != nil {
		b.Fatal(err)
	}
	node, queue, want := "hop", "out", n
	if isFold {
		fillItems(b, conn, g.WorkExchange, n)
		node, queue, want = "sum", "result", 1
	} else {
		fill(b, conn, g.WorkExchange, "in", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return vh.AMQPURL
		case "DGE_CONNECTION_NAME":
			return t.Name()
		case "DGE_LOG":
			return "error"
		}
		return ""
	}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		var errb strings.Builder
		if code := run(ctx, g, []string{node}, env, strings.NewReader(""), &errb, &errb); code != 0 {
			b.Errorf("%s exited %d: %s", node, code, errb.String())
		}
	}()
	stopRSS := make(chan struct{})
	if rss != nil {
		go sampleRSS(rss, stopRSS)
	}
	_, at := waitCount(b, conn, queue, want)
	close(stopRSS)
	cancel()
	<-done
	if isFold {
		checkSum(b, conn, n)
	}
	return float64(n) / at.Sub(start).Seconds()
}

// fillItems publishes the n items of one split (values 0..n-1) to "sum".
func fillItems(b *testing.B, conn *amqp.Connection, exchange string, n int) {
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
		dc, err := ch.PublishWithDeferredConfirm(exchange, "sum", true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: "item-" + strconv.Itoa(i), Body: body,
			Headers: amqp.Table{HeaderRunID: "run1", HeaderSplit: splitFrame{Split: "numbers", ID: "s1", Index: i, Count: n}.String()},
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

// checkSum reads the fold's result and checks it.
func checkSum(b *testing.B, conn *amqp.Connection, n int) {
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	d, ok, err := ch.Get("result", true)
	if err != nil || !ok {
		b.Fatalf("get result: %v %v", ok, err)
	}
	var v num
	if err := json.Unmarshal(d.Body, &v); err != nil || v.Value != n*(n-1)/2 {
		b.Fatalf("fold result %s, want %d", d.Body, n*(n-1)/2)
	}
}

// sampleRSS records in max the most resident memory of the process until
// stop is closed.
func sampleRSS(maxRSS *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if v := residentBytes(); v > maxRSS.Load() {
			maxRSS.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// residentBytes returns the process's resident memory (Linux), or the Go
// runtime's memory obtained from the system elsewhere.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		f := strings.Fields(string(data))
		if len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.Sys)
}
