package e2e

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/supervise"
)

var runBurstRuns = flag.Int("runburst.runs", 2000, "BenchmarkRunBurst: runs in the burst")

// BenchmarkRunBurst measures a burst of -runburst.runs runs (2,000) of the
// runburst graph (a 20 ms handler) from the first publish to the last
// result, twice per round, each in a fresh vhost with the runtime's
// default flags: once under dge run (-program, so the build is not timed),
// which scales process "work" from 1 to 4 replicas, and once with a single
// replica of work started by hand. It prints both times and the speed-up
// (the goal is ≥ 2.5x). Run it with -benchtime 1x (make bench).
func BenchmarkRunBurst(b *testing.B) {
	n := *runBurstRuns
	dge := buildTB(b, "./cmd/dge")
	bin := buildTB(b, "./"+runburstDir+"/cmd/runburst")
	root := repoRootTB(b)
	var scaled, single []float64
	for range b.N {
		scaled = append(scaled, burstUnderDgeRun(b, dge, bin, root, n).Seconds())
		single = append(single, burstOneReplica(b, bin, root, n).Seconds())
	}
	s, o := median(scaled), median(single)
	b.ReportMetric(s*1e9/float64(n), "ns/op")
	b.ReportMetric(s, "dge-run-s")
	b.ReportMetric(o, "one-replica-s")
	b.ReportMetric(o/s, "speed-up")
	fmt.Printf("run-burst: %d runs of a 20 ms handler: dge run (1 to 4 replicas) %.1fs, one replica %.1fs, speed-up %.2fx (goal ≥ 2.5x)\n", n, s, o, o/s)
}

// burstUnderDgeRun times the burst with dge run supervising the graph.
func burstUnderDgeRun(b *testing.B, dge, bin, root string, n int) time.Duration {
	b.Helper()
	vh := runburstVhost(b, root)
	run := startDgeRun(b, dge, root, vh, "-program", bin)
	for ev := range run.events {
		if ev.Type == supervise.Started {
			break
		}
	}
	go func() { // the rest of the events are not needed; keep dge run writing
		for range run.events {
		}
	}()
	waitConsumers(b, vh.Dial(b), "work")
	d := timeBurst(b, bin, vh, n)
	_ = run.cmd.Process.Signal(syscall.SIGTERM)
	<-run.done
	return d
}

// burstOneReplica times the burst with one replica of work.
func burstOneReplica(b *testing.B, bin, root string, n int) time.Duration {
	b.Helper()
	vh := runburstVhost(b, root)
	benchProc(b, bin, vh, "work")
	waitConsumers(b, vh.Dial(b), "work")
	return timeBurst(b, bin, vh, n)
}

// timeBurst publishes n jobs and returns the time until every result has
// arrived.
func timeBurst(b *testing.B, bin string, vh brokertest.Vhost, n int) time.Duration {
	b.Helper()
	env := append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=warn")
	consume := exec.Command(bin, "consume", "done", "-timeout", "10m")
	consume.Env = env
	stdout, err := consume.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := consume.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = consume.Process.Kill(); _ = consume.Wait() }()
	start := time.Now()
	publish := exec.Command(bin, "publish", "start")
	publish.Env, publish.Stdin = env, strings.NewReader(jobs(n))
	if out, err := publish.CombinedOutput(); err != nil {
		b.Fatalf("publish: %v\n%s", err, out)
	}
	seen := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for len(seen) < n && sc.Scan() {
		var r struct{ ID int }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatalf("unexpected result %q", sc.Text())
		}
		seen[r.ID] = true
	}
	if len(seen) < n {
		b.Fatalf("%d of %d results arrived", len(seen), n)
	}
	return time.Since(start)
}
