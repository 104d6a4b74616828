package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/supervise"
	"github.com/dgehq/dge/plan"
)

const runburstDir = "internal/e2e/testdata/runburst"

// runburstVhost declares the runburst graph's topology in a new vhost.
func runburstVhost(tb testing.TB, root string) brokertest.Vhost {
	tb.Helper()
	g, diags := config.NewLoader().Load(filepath.Join(root, runburstDir), config.Options{Env: os.Environ()})
	if diags.HasErrors() {
		tb.Fatalf("load %s: %v", runburstDir, diags)
	}
	vh := brokertest.NewVhost(tb)
	if err := brokertest.Declare(vh.Dial(tb), plan.TopologyParams(g)); err != nil {
		tb.Fatalf("declare topology: %v", err)
	}
	return vh
}

// dgeRun is a `dge run -json` process: its events arrive on events.
type dgeRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	events chan supervise.Event
	done   chan struct{}
}

// startDgeRun starts `dge run -json args... <runburst>` in vh; it is
// SIGKILLed at the end if it still runs (its replicas die with it).
func startDgeRun(tb testing.TB, dge, root string, vh brokertest.Vhost, args ...string) *dgeRun {
	tb.Helper()
	args = append(append([]string{"run", "-json"}, args...), filepath.Join(root, runburstDir))
	r := &dgeRun{cmd: exec.Command(dge, args...), stderr: &syncBuffer{}, events: make(chan supervise.Event, 10_000), done: make(chan struct{})}
	r.cmd.Dir = root
	r.cmd.Env = append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=info")
	r.cmd.Stderr = r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		tb.Fatalf("start dge run: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev supervise.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				r.stderr.Write([]byte(fmt.Sprintf("test: not an event on stdout: %q\n", sc.Text())))
				continue
			}
			r.events <- ev
		}
		close(r.events)
		_ = r.cmd.Wait()
		close(r.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if tb.Failed() {
			tb.Logf("dge run stderr (last 8 KB):\n%s", tail(r.stderr.String(), 8<<10))
		}
	})
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// jobs returns n runburst inputs, one JSON line each, IDs 1..n.
func jobs(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "{\"id\":%d}\n", i)
	}
	return b.String()
}

// TestRunBurst is dge run's acceptance run on the runburst graph (a 20 ms
// handler, one to four replicas, ready_per_replica 20, cooldown 3s): dge
// run builds the program itself; a burst of 2,000 runs raises work to 4
// replicas; one replica is SIGKILLed mid-burst and must be restarted;
// every run's result arrives and nothing is parked (duplicates are
// counted and printed); once the queue has drained and the cooldown has
// passed, work is back at 1 replica; SIGTERM stops dge run with exit 0
// and every replica stopped.
func TestRunBurst(t *testing.T) {
	const runs = 2000
	dge := build(t, "./cmd/dge")
	e := newEnv(t, runburstDir, "./"+runburstDir+"/cmd/runburst")
	root := repoRoot(t)
	run := startDgeRun(t, dge, root, e.vh)

	// next reads events until one matches, failing after 3 minutes.
	var all []supervise.Event
	next := func(what string, match func(supervise.Event) bool) supervise.Event {
		t.Helper()
		deadline := time.After(3 * time.Minute)
		for {
			select {
			case ev, ok := <-run.events:
				if !ok {
					t.Fatalf("dge run ended before %s; events: %v", what, all)
				}
				all = append(all, ev)
				if match(ev) {
					return ev
				}
			case <-deadline:
				t.Fatalf("no %s within 3 minutes; events: %v", what, all)
			}
		}
	}
	next("work#1 started", func(ev supervise.Event) bool { return ev.Type == supervise.Started && ev.Node == "process.work" })

	result := e.consume("done")
	e.run("publish", jobs(runs), "publish", "start")

	// Scale-up to 4, and a SIGKILL of a started replica other than #1
	// while the burst is under way.
	pids := map[int]int{} // replica → pid
	peak := next("scale-up to 4", func(ev supervise.Event) bool {
		if ev.Type == supervise.Started {
			pids[ev.Replica] = ev.PID
		}
		return ev.Type == supervise.Scaled && *ev.To == 4
	})
	t.Logf("scaled %d → %d with %d ready", *peak.From, *peak.To, *peak.Ready)
	victim := next("another replica started", func(ev supervise.Event) bool {
		if ev.Type == supervise.Started {
			pids[ev.Replica] = ev.PID
		}
		return ev.Type == supervise.Started && ev.Replica > 1
	})
	seen, dups := map[int]bool{}, 0
	var line string
	read := func() {
		t.Helper()
		line = result.next(t)
		var r struct{ ID, Doubled int }
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ID < 1 || r.ID > runs || r.Doubled != 2*r.ID {
			t.Fatalf("unexpected result %q", line)
		}
		if seen[r.ID] {
			dups++
		}
		seen[r.ID] = true
	}
	for len(seen) < runs/4 { // the burst is under way, on every replica
		read()
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL work#%d (pid %d): %v", victim.Replica, victim.PID, err)
	}
	killedAt := len(seen)
	exit := next("the victim's exit", func(ev supervise.Event) bool { return ev.Type == supervise.Exited && ev.PID == victim.PID })
	if exit.Signal != "SIGKILL" {
		t.Errorf("exit event of the victim %+v; want signal SIGKILL", exit)
	}
	again := next("the victim's restart", func(ev supervise.Event) bool {
		return ev.Type == supervise.Restarted && ev.Replica == victim.Replica
	})
	t.Logf("SIGKILLed work#%d (pid %d) after %d results; restarted as pid %d after %d ms", victim.Replica, victim.PID, killedAt, again.PID, again.BackoffMS)

	for len(seen) < runs {
		read()
	}
	parked := e.queueCount("work.dead") + e.queueCount("done.dead")
	chaos := fmt.Sprintf("chaos: dge-run-burst runs=%d lost=%d duplicates=%d parked=%d peak_replicas=4 killed_replica=%d", runs, runs-len(seen), dups, parked, victim.Replica)
	t.Log(chaos)
	fmt.Println(chaos)
	if parked != 0 {
		t.Errorf("%d messages parked; want 0", parked)
	}

	down := next("scale-down to the minimum", func(ev supervise.Event) bool {
		return ev.Type == supervise.Scaled && *ev.To == 1
	})
	t.Logf("scaled %d → %d with %d ready after the cooldown", *down.From, *down.To, *down.Ready)

	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for ev := range run.events {
		all = append(all, ev)
		if ev.Type == supervise.Stopped {
			stopped++
		}
	}
	<-run.done
	if code := run.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("dge run exited %d after SIGTERM; want 0", code)
	}
	if stopped == 0 {
		t.Errorf("no stopped event after SIGTERM; events: %v", all)
	}
	if strings.Contains(run.stderr.String(), "guest:guest") {
		t.Errorf("dge run printed the broker password")
	}
	if !strings.Contains(run.stderr.String(), "process.work#1 | ") {
		t.Errorf("dge run's stderr has no line of process.work#1")
	}
}
