package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
	amqp "github.com/rabbitmq/amqp091-go"
)

var (
	splitItems  = flag.Int("split.items", 100_000, "BenchmarkSplitFold: items in the one split")
	splitRounds = flag.Int("split.rounds", 3, "BenchmarkSplitFold: rounds; each runs the split and the plain hop once, in fresh vhosts")
)

const splitBenchDir = "internal/e2e/testdata/splitbench"

// BenchmarkSplitFold measures one split of -split.items items (100,000)
// folded by a gather (internal/e2e/testdata/splitbench: split "items" →
// process "work" → fold "sum"), one instance of each node as its own
// process with the runtime's default flags, against the same number of
// messages through a plain process hop. Each round, in a fresh vhost:
// the split and the work node run, one Count is published, and once all
// the items wait in the fold's queue the fold is started; its items/s run
// from the first item it takes to the total's arrival (which must be the
// exact sum, N²). The hop: the same number of items are put in the work
// queue first, the work node is started, and its msgs/s run from its
// first output to its last. Both are a consumer draining a full queue, so
// the ratio (the goal is ≥ 0.8) compares the fold with a hop alone. It also
// prints how fast the split and the work node filled the fold's queue
// (the pipeline before the fold) and the folding instance's peak resident
// memory (VmHWM of the sum process; the goal is < 100 MB). Run it with
// -benchtime 1x (make bench).
func BenchmarkSplitFold(b *testing.B) {
	n := *splitItems
	bin := buildTB(b, "./"+splitBenchDir+"/cmd/splitbench")
	var foldRate, fillRate, hopRate, hwm []float64
	rounds := max(*splitRounds, 1)
	for range b.N {
		for range rounds {
			fill, fold, m := splitTurn(b, bin, n)
			fillRate, foldRate, hwm = append(fillRate, fill), append(foldRate, fold), append(hwm, m)
			hopRate = append(hopRate, hopTurn(b, bin, n))
		}
	}
	f, h := median(foldRate), median(hopRate)
	peak := slices.Max(hwm)
	b.ReportMetric(1e9/f, "ns/op")
	b.ReportMetric(f, "fold-items/s")
	b.ReportMetric(h, "hop-msgs/s")
	b.ReportMetric(f/h, "ratio")
	b.ReportMetric(peak/(1<<20), "fold-peak-MB")
	fmt.Printf("split-fold: %d items, %d rounds: fold %.0f items/s, plain process hop %.0f msgs/s, ratio %.2fx (goal ≥ 0.8x); folding instance peak RSS %.1f MB (goal < 100 MB); split→process filling the fold's queue %.0f items/s\n",
		n, len(foldRate), f, h, f/h, peak/(1<<20), median(fillRate))
	b.Logf("per round: fold %.0f items/s, hop %.0f msgs/s, fill %.0f items/s, fold VmHWM %.1f MB", foldRate, hopRate, fillRate, mb(hwm))
}

func mb(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / (1 << 20)
	}
	return out
}

// median returns the median of v.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchVhost declares the bench graph's topology in a new vhost and
// returns it with a connection.
func benchVhost(b *testing.B) (brokertest.Vhost, *amqp.Connection) {
	b.Helper()
	g, diags := config.NewLoader().Load(filepath.Join(repoRootTB(b), splitBenchDir), config.Options{Env: os.Environ()})
	if diags.HasErrors() {
		b.Fatalf("load %s: %v", splitBenchDir, diags)
	}
	vh := brokertest.NewVhost(b)
	conn := vh.Dial(b)
	if err := brokertest.Declare(conn, plan.TopologyParams(g)); err != nil {
		b.Fatalf("declare topology: %v", err)
	}
	return vh, conn
}

// benchProc starts the bench program's node subcommand in vh; it is
// SIGKILLed when the benchmark ends if it still runs.
func benchProc(b *testing.B, bin string, vh brokertest.Vhost, args ...string) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %v: %v", args, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if b.Failed() {
			b.Logf("%v stderr:\n%s", args, stderr.String())
		}
	})
	return cmd
}

// waitConsumers waits until each queue has a consumer.
func waitConsumers(b *testing.B, conn *amqp.Connection, queues ...string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, q := range queues {
		for queueState(b, conn, q).Consumers == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("no consumer on %s within a minute", q)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func queueState(b *testing.B, conn *amqp.Connection, q string) amqp.Queue {
	b.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		b.Fatalf("inspect queue %s: %v", q, err)
	}
	return st
}

// splitTurn runs one split of n items: the split and the work node fill
// the fold's queue, then the fold drains it. It returns the items/s of the
// filling and of the fold, and the sum process's VmHWM in bytes.
func splitTurn(b *testing.B, bin string, n int) (fill, fold, hwm float64) {
	b.Helper()
	vh, conn := benchVhost(b)
	benchProc(b, bin, vh, "items")
	benchProc(b, bin, vh, "work")
	waitConsumers(b, conn, "items", "work")
	env := append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=warn")
	start := time.Now()
	publish := exec.Command(bin, "publish", "start", fmt.Sprintf(`{"n":%d}`, n))
	publish.Env = env
	if out, err := publish.CombinedOutput(); err != nil {
		b.Fatalf("publish: %v\n%s", err, out)
	}
	deadline := start.Add(20 * time.Minute)
	for queueState(b, conn, "sum").Messages < n {
		if time.Now().After(deadline) {
			b.Fatalf("the fold's queue holds %d of %d items after 20 minutes", queueState(b, conn, "sum").Messages, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fill = float64(n) / time.Since(start).Seconds()

	consume := exec.Command(bin, "consume", "total", "-n", "1", "-timeout", "20m")
	consume.Env = env
	stdout, err := consume.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := consume.Start(); err != nil {
		b.Fatal(err)
	}
	sum := benchProc(b, bin, vh, "sum")
	var first time.Time
	for first.IsZero() {
		if queueState(b, conn, "sum").Messages < n {
			first = time.Now()
		} else if time.Now().After(deadline) {
			b.Fatal("the fold took no item within 20 minutes")
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	elapsed := time.Since(first)
	if err != nil {
		b.Fatalf("no total: %v", err)
	}
	_ = consume.Wait()
	var got struct{ Count, Sum int64 }
	if err := json.Unmarshal([]byte(line), &got); err != nil || got.Count != int64(n) || got.Sum != int64(n)*int64(n) {
		b.Fatalf("total %q, want count %d and sum %d", line, n, int64(n)*int64(n))
	}
	return fill, float64(n) / elapsed.Seconds(), vmHWM(b, sum.Process.Pid)
}

// purge empties a queue.
func purge(b *testing.B, conn *amqp.Connection, q string) {
	b.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.QueuePurge(q, false); err != nil {
		b.Fatalf("purge %s: %v", q, err)
	}
}

// vmHWM reads a process's peak resident set size, in bytes.
func vmHWM(b *testing.B, pid int) float64 {
	b.Helper()
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(s)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb * 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// hopTurn puts n items in the work queue, starts the work node and returns
// its msgs/s from its first output to its last.
func hopTurn(b *testing.B, bin string, n int) float64 {
	b.Helper()
	vh, conn := benchVhost(b)
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	for i := range n {
		if err := ch.Publish("splitbench.work", "work", true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json",
			MessageId: fmt.Sprintf("hop-%d", i), CorrelationId: "hop",
			Body: []byte(fmt.Sprintf(`{"i":%d}`, i)),
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range n {
		if c := <-confirms; !c.Ack {
			b.Fatal("the broker refused an item (nack)")
		}
	}
	ch.Close()
	benchProc(b, bin, vh, "work")
	var first time.Time
	deadline := time.Now().Add(20 * time.Minute)
	for {
		c := queueState(b, conn, "sum").Messages
		if c > 0 && first.IsZero() {
			first = time.Now()
		}
		if c >= n {
			rate := float64(n) / time.Since(first).Seconds()
			purge(b, conn, "sum") // the vhost lives until the benchmark ends: free the broker's memory now
			return rate
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d items through the hop after 20 minutes", c, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var tbBuilds sync.Map // package path → *buildResult

// buildTB compiles a program for a benchmark (once per run).
func buildTB(b *testing.B, pkg string) string {
	b.Helper()
	v, _ := tbBuilds.LoadOrStore(pkg, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		r.path = filepath.Join(binDir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", r.path, pkg)
		cmd.Dir = repoRootTB(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r.path
}

func repoRootTB(b *testing.B) string {
	b.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}
