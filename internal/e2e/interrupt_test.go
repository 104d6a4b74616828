package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
	amqp "github.com/rabbitmq/amqp091-go"
)

// moveGraph is a one-edge graph whose work queue is queue, of queue type
// qtype, with a moved block from moved (none when "").
func moveGraph(vhost, qtype, queue, moved string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"mv\" {\n  handlers = \"example.com/h\"\n}\n")
	fmt.Fprintf(&b, "broker {\n  vhost = %q\n  queue_type = %q\n}\n", vhost, qtype)
	b.WriteString("start \"start\" {}\n")
	fmt.Fprintf(&b, "process \"a\" {\n  from = start.start\n  queue = %q\n  message = \"M\"\n  handler = \"A\"\n}\n", queue)
	b.WriteString("terminate \"out\" {\n  from = process.a\n  queue = \"out\"\n  message = \"M\"\n}\n")
	if moved != "" {
		fmt.Fprintf(&b, "moved {\n  from = %q\n  to = %q\n}\n", moved, queue)
	}
	return b.String()
}

// TestApplyKilledMidMoveConverges SIGKILLs `dge apply` halfway through
// moving 5,000 messages, for a rename (a moved block) and for a queue type
// change with -keep-messages; the next apply converges and every message is
// in the new queue once at least (duplicates are counted, not lost).
func TestApplyKilledMidMoveConverges(t *testing.T) {
	dge := build(t, "./cmd/dge")
	for _, c := range []struct {
		name        string
		before      func(vhost string) string
		after       func(vhost string) string
		keep        bool
		watch, dest string // the queue whose count shows the move's progress; where the messages end
	}{
		{
			name:   "rename",
			before: func(vh string) string { return moveGraph(vh, "quorum", "a_in", "") },
			after:  func(vh string) string { return moveGraph(vh, "quorum", "b_in", "a_in") },
			watch:  "b_in", dest: "b_in",
		},
		{
			name:   "quorum to classic",
			before: func(vh string) string { return moveGraph(vh, "quorum", "a_in", "") },
			after:  func(vh string) string { return moveGraph(vh, "classic", "a_in", "") },
			keep:   true, watch: plan.KeepName("a_in"), dest: "a_in",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			vh := brokertest.NewVhost(t)
			conn := vh.Dial(t)
			dir := t.TempDir()
			file := filepath.Join(dir, "graph.dge.hcl")
			env := append(os.Environ(), "DGE_MANAGEMENT_URL="+vh.ManagementURL, "DGE_AMQP_URL="+vh.AMQPURL)
			apply := func(extra ...string) *exec.Cmd {
				cmd := exec.Command(dge, append(append([]string{"apply", "-auto-approve"}, extra...), dir)...)
				cmd.Env = env
				return cmd
			}
			if err := os.WriteFile(file, []byte(c.before(vh.Name)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := apply().CombinedOutput(); err != nil {
				t.Fatalf("first apply: %v\n%s", err, out)
			}
			const n = 5000
			publishNumbered(t, conn, "a_in", n)

			if err := os.WriteFile(file, []byte(c.after(vh.Name)), 0o644); err != nil {
				t.Fatal(err)
			}
			var extra []string
			if c.keep {
				extra = []string{"-keep-messages"}
			}
			cmd := apply(extra...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for queueCount(conn, c.watch) < n/4 {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the move never reached a quarter of the messages:\n%s", out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			t.Logf("SIGKILLed dge apply with %d messages in %s", queueCount(conn, c.watch), c.watch)

			if o, err := apply(extra...).CombinedOutput(); err != nil {
				t.Fatalf("apply after the kill: %v\n%s", err, o)
			}
			check := exec.Command(dge, "plan", "-detailed-exitcode", dir)
			check.Env = env
			if o, err := check.CombinedOutput(); err != nil {
				t.Fatalf("plan after the second apply is not clean: %v\n%s", err, o)
			}
			got := brokertest.WaitMessages(t, conn, c.dest, queueCount(conn, c.dest))
			seen := map[string]bool{}
			for _, d := range got {
				seen[d.MessageId] = true
			}
			t.Logf("%s: %d messages, %d distinct of %d, %d duplicates", c.dest, len(got), len(seen), n, len(got)-len(seen))
			if len(seen) != n {
				t.Errorf("%d distinct messages in %s after the interrupted move, want all %d", len(seen), c.dest, n)
			}
		})
	}
}

// publishNumbered sends n persistent, confirmed messages m-0 ... to queue.
func publishNumbered(t *testing.T, conn *amqp.Connection, queue string, n int) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, MessageId: fmt.Sprintf("m-%d", i), Body: []byte(fmt.Sprintf(`{"value": %d}`, i)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%256 == 255 || i == n-1 {
			if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
				t.Fatalf("publish to %s not confirmed: %v", queue, err)
			}
		}
	}
}

// queueCount is the ready count of queue (passive declare), 0 when it does
// not exist.
func queueCount(conn *amqp.Connection, queue string) int {
	ch, err := conn.Channel()
	if err != nil {
		return 0
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return 0
	}
	return q.Messages
}

// waitCountStill waits until queue's ready count has not changed for
// still, failing after a minute.
func waitCountStill(t *testing.T, conn *amqp.Connection, queue string, still time.Duration) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	last, since := queueCount(conn, queue), time.Now()
	for time.Since(since) < still {
		if time.Now().After(deadline) {
			t.Fatalf("%s's count still changes after a minute (now %d)", queue, last)
		}
		time.Sleep(50 * time.Millisecond)
		if c := queueCount(conn, queue); c != last {
			last, since = c, time.Now()
		}
	}
}

// TestRedriveKilledMidwayConverges SIGKILLs `dge parked redrive` halfway
// through 5,000 parked messages; a second redrive finishes, and every
// message is back in its work queue once at least, none left parked.
func TestRedriveKilledMidwayConverges(t *testing.T) {
	dge := build(t, "./cmd/dge")
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(moveGraph(vh.Name, "quorum", "a_in", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DGE_MANAGEMENT_URL="+vh.ManagementURL, "DGE_AMQP_URL="+vh.AMQPURL)
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(dge, append(args, dir)...)
		cmd.Env = env
		return cmd
	}
	if out, err := run("apply", "-auto-approve").CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	const n = 5000
	publishNumbered(t, conn, "a_in.dead", n)
	cmd := run("parked", "redrive", "-auto-approve", "-rate", "2000")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for queueCount(conn, "a_in") < n/4 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the redrive never reached a quarter of the messages:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("SIGKILLed dge parked redrive with %d messages back in a_in", queueCount(conn, "a_in"))
	// The quorum queue takes back the killed command's unacknowledged
	// messages asynchronously; a redrive that counts a_in.dead before they
	// are all back leaves the late ones parked (see docs/operating.md).
	waitCountStill(t, conn, "a_in.dead", time.Second)
	if o, err := run("parked", "redrive", "-auto-approve").CombinedOutput(); err != nil {
		t.Fatalf("redrive after the kill: %v\n%s", err, o)
	}
	if c := queueCount(conn, "a_in.dead"); c != 0 {
		t.Errorf("a_in.dead holds %d messages after the second redrive, want 0", c)
	}
	got := brokertest.WaitMessages(t, conn, "a_in", queueCount(conn, "a_in"))
	seen := map[string]bool{}
	for _, d := range got {
		seen[d.MessageId] = true
	}
	t.Logf("a_in: %d messages, %d distinct of %d, %d duplicates", len(got), len(seen), n, len(got)-len(seen))
	if len(seen) != n {
		t.Errorf("%d distinct messages back in a_in after the interrupted redrive, want all %d", len(seen), n)
	}
}
