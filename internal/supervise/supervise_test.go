package supervise_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/scale"
	"github.com/dgehq/dge/internal/supervise"
)

// program writes a shell script standing in for a generated program: its
// first argument is the node command. "steady" prints a line with its
// arguments and runs until SIGTERM, then prints "bye" and exits 0;
// "crash" prints a line and exits 3; "stubborn" ignores SIGTERM.
func program(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prog")
	script := `#!/bin/sh
case "$1" in
steady)
	trap 'echo bye; exit 0' TERM
	echo "hello $*"
	echo "to stderr" >&2
	while :; do sleep 0.05; done ;;
crash)
	echo "failing"
	exit 3 ;;
stubborn)
	trap '' TERM
	echo "ready"
	while :; do sleep 0.05; done ;;
esac
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a concurrency-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run starts a Supervisor with opts; its events arrive on the returned
// recorder. stop cancels it and waits for Run to return.
func run(t *testing.T, opts supervise.Options) (rec *recorder, out *syncBuffer, stop func()) {
	t.Helper()
	rec = &recorder{ch: make(chan supervise.Event, 1000)}
	out = &syncBuffer{}
	opts.Console = supervise.NewConsole(out, false)
	opts.Events = func(e supervise.Event) { rec.ch <- e }
	s, err := supervise.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return rec, out, stop
}

type recorder struct {
	ch  chan supervise.Event
	all []supervise.Event
}

// wait returns the first event, from those not seen yet, that match,
// failing the test after a minute.
func (r *recorder) wait(t *testing.T, what string, match func(supervise.Event) bool) supervise.Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case e := <-r.ch:
			r.all = append(r.all, e)
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within a minute; events: %+v", what, r.all)
		}
	}
}

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t *testing.T, out *syncBuffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute; output:\n%s", what, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func is(typ supervise.EventType, replica int) func(supervise.Event) bool {
	return func(e supervise.Event) bool { return e.Type == typ && (replica == 0 || e.Replica == replica) }
}

func steady(min, max int) supervise.Node {
	return supervise.Node{Address: "process.steady", Command: "steady", Queue: "steady",
		Rule: scale.Rule{Min: min, Max: max, ReadyPerReplica: 10}, Grace: 5 * time.Second}
}

// TestRestartAndStop: min replicas start, their lines are merged with
// their prefix, a SIGKILLed replica is restarted under its number, and a
// cancelled context stops every replica with SIGTERM (exit 0).
func TestRestartAndStop(t *testing.T) {
	rec, out, stop := run(t, supervise.Options{Program: program(t), Nodes: []supervise.Node{steady(2, 2)}, Args: []string{"-x"}})
	started := map[int]supervise.Event{}
	rec.wait(t, "started #1 and #2", func(e supervise.Event) bool {
		if e.Type == supervise.Started {
			started[e.Replica] = e
		}
		return len(started) == 2
	})
	first := started[1]
	eventually(t, out, "#1's hello line", func() bool { return strings.Contains(out.String(), "process.steady#1 | hello steady") })
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := rec.wait(t, "exited #1", is(supervise.Exited, 1))
	if exit.Signal != "SIGKILL" || exit.PID != first.PID {
		t.Errorf("exit event %+v; want pid %d, signal SIGKILL", exit, first.PID)
	}
	again := rec.wait(t, "restarted #1", is(supervise.Restarted, 1))
	if again.PID == first.PID || again.Restarts != 1 || again.BackoffMS != 100 {
		t.Errorf("restart event %+v; want a new pid, restart 1 after 100 ms", again)
	}
	eventually(t, out, "the restart's hello line", func() bool { return strings.Count(out.String(), "process.steady#1 | hello steady") == 2 })
	stop()
	close(rec.ch)
	stopped := map[int]bool{}
	for e := range rec.ch {
		if e.Type == supervise.Stopped {
			if e.Code == nil || *e.Code != 0 || e.Killed {
				t.Errorf("stopped event %+v; want exit code 0 after SIGTERM", e)
			}
			stopped[e.Replica] = true
		}
	}
	if !stopped[1] || !stopped[2] {
		t.Errorf("stopped replicas %v; want 1 and 2", stopped)
	}
	for _, want := range []string{
		"process.steady#2 | hello steady -shutdown-timeout 5s -x\n",
		"process.steady#2 | to stderr\n",
		"process.steady#1 | bye\n",
		"dge | process.steady#1 exited (signal SIGKILL); restarting it\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the merged output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestCrashLoop: a replica that keeps failing is restarted with growing
// backoff and reported as a crash loop.
func TestCrashLoop(t *testing.T) {
	n := supervise.Node{Address: "process.crash", Command: "crash", Queue: "crash", Rule: scale.Rule{Min: 1, Max: 1, ReadyPerReplica: 1}, Grace: time.Second}
	rec, out, _ := run(t, supervise.Options{Program: program(t), Nodes: []supervise.Node{n},
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, CrashLoopRestarts: 3})
	var backoffs []int64
	loop := rec.wait(t, "crash-loop", func(e supervise.Event) bool {
		if e.Type == supervise.Restarted {
			backoffs = append(backoffs, e.BackoffMS)
		}
		return e.Type == supervise.CrashLoop
	})
	if loop.Restarts != 4 {
		t.Errorf("crash-loop event %+v; want 4 restarts (more than 3)", loop)
	}
	rec.wait(t, "restarted after the crash loop", is(supervise.Restarted, 1))
	if want := []int64{1, 2, 4}; !equal(backoffs, want) {
		t.Errorf("backoffs %v ms; want %v", backoffs, want)
	}
	if !strings.Contains(out.String(), "process.crash#1 exited (exit code 3)") || !strings.Contains(out.String(), "process.crash#1 | failing") {
		t.Errorf("output lacks the exit or the replica's line:\n%s", out.String())
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// counter is a Counter whose ready count the test sets.
type counter struct{ ready atomic.Int64 }

func (c *counter) Count(context.Context, string) (int64, int64, bool, error) {
	return c.ready.Load(), 0, true, nil
}

// TestScaling: a full queue scales the node up at once to its maximum; an
// empty one, after the cooldown, back to its minimum, one replica at a
// time, the highest-numbered first, each by SIGTERM.
func TestScaling(t *testing.T) {
	c := &counter{}
	n := steady(1, 3)
	n.Rule.Cooldown = 50 * time.Millisecond
	rec, _, _ := run(t, supervise.Options{Program: program(t), Nodes: []supervise.Node{n}, Counter: c, Interval: 10 * time.Millisecond})
	rec.wait(t, "started #1", is(supervise.Started, 1))
	c.ready.Store(25)
	up := rec.wait(t, "scaled", is(supervise.Scaled, 0))
	if *up.From != 1 || *up.To != 3 || *up.Ready != 25 {
		t.Errorf("scale-up event %+v; want 1 → 3 for 25 ready", up)
	}
	rec.wait(t, "started #3", is(supervise.Started, 3))
	c.ready.Store(0)
	down := rec.wait(t, "scaled", is(supervise.Scaled, 0))
	if *down.From != 3 || *down.To != 1 || *down.Ready != 0 {
		t.Errorf("scale-down event %+v; want 3 → 1 for 0 ready", down)
	}
	s3 := rec.wait(t, "stopped", is(supervise.Stopped, 0))
	s2 := rec.wait(t, "stopped", is(supervise.Stopped, 0))
	if s3.Replica != 3 || s2.Replica != 2 || *s3.Code != 0 || *s2.Code != 0 {
		t.Errorf("stopped %+v then %+v; want #3 then #2, each exit 0 after SIGTERM", s3, s2)
	}
}

// TestKillAfterGrace: a replica that ignores SIGTERM is killed once its
// grace has passed.
func TestKillAfterGrace(t *testing.T) {
	n := supervise.Node{Address: "process.stubborn", Command: "stubborn", Queue: "q", Rule: scale.Rule{Min: 1, Max: 1, ReadyPerReplica: 1}, Grace: 100 * time.Millisecond}
	rec, out, stop := run(t, supervise.Options{Program: program(t), Nodes: []supervise.Node{n}})
	rec.wait(t, "started", is(supervise.Started, 1))
	eventually(t, out, "the ready line", func() bool { return strings.Contains(out.String(), "#1 | ready") })
	stop()
	e := rec.wait(t, "stopped", is(supervise.Stopped, 1))
	if !e.Killed || e.Signal != "SIGKILL" {
		t.Errorf("stopped event %+v; want killed by SIGKILL", e)
	}
}

// TestConsole: off a terminal lines are plain; on one, the status block
// is erased before each line and drawn again after it.
func TestConsole(t *testing.T) {
	var plain bytes.Buffer
	c := supervise.NewConsole(&plain, false)
	c.SetStatus([]string{"status"})
	c.Line("process.a#1", "one\n")
	if got := plain.String(); got != "process.a#1 | one\n" {
		t.Errorf("off a terminal: %q", got)
	}
	var tty bytes.Buffer
	c = supervise.NewConsole(&tty, true)
	c.SetStatus([]string{"s1", "s2"})
	c.Line("process.a#1", "one")
	c.ClearStatus()
	want := "s1\x1b[K\ns2\x1b[K\n" + "\x1b[2A\r\x1b[J" + "process.a#1 | one\n" + "s1\x1b[K\ns2\x1b[K\n" + "\x1b[2A\r\x1b[J"
	if got := tty.String(); got != want {
		t.Errorf("on a terminal:\n got %q\nwant %q", got, want)
	}
}

// failingCounter fails every count the same way.
type failingCounter struct{ calls atomic.Int64 }

func (c *failingCounter) Count(context.Context, string) (int64, int64, bool, error) {
	c.calls.Add(1)
	return 0, 0, false, errors.New("connection refused for amqp://u:pw@host/")
}

// TestCountFailed: a queue that cannot be counted is reported once (until
// a count succeeds), scrubbed, and the replicas stay as they are.
func TestCountFailed(t *testing.T) {
	c := &failingCounter{}
	scrub := func(s string) string { return strings.ReplaceAll(s, "u:pw@", "u:xxxxx@") }
	rec, out, _ := run(t, supervise.Options{Program: program(t), Nodes: []supervise.Node{steady(1, 3)}, Counter: c, Interval: 5 * time.Millisecond, Scrub: scrub})
	e := rec.wait(t, "count-failed", is(supervise.CountFailed, 0))
	if e.Error != "connection refused for amqp://u:xxxxx@host/" {
		t.Errorf("count-failed error %q; want it scrubbed", e.Error)
	}
	eventually(t, out, "more counts", func() bool { return c.calls.Load() >= 10 })
	if n := strings.Count(out.String(), "cannot count its queue"); n != 1 {
		t.Errorf("the count failure is reported %d times; want once:\n%s", n, out.String())
	}
}
