package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	chainDir = "testdata/e2e/chain"
	chainPkg = "./testdata/e2e/chain/cmd/chain"
)

type number struct {
	Value int64 `json:"value"`
}

func inputs(values []int64) string {
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, "{\"value\": %d}\n", v)
	}
	return b.String()
}

// collect reads results until every wanted value was seen, calling hook
// after each new distinct value; it returns how many duplicates arrived.
func collect(t *testing.T, r *results, want map[int64]bool, hook func(seen int)) (dups int) {
	t.Helper()
	seen := map[int64]bool{}
	for len(seen) < len(want) {
		line := r.next(t)
		var n number
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			t.Fatalf("result %q: %v", line, err)
		}
		if !want[n.Value] {
			t.Fatalf("unexpected result %d", n.Value)
		}
		if seen[n.Value] {
			dups++
			continue
		}
		seen[n.Value] = true
		if hook != nil {
			hook(len(seen))
		}
	}
	return dups
}

// TestChainSurvivesKillsAndForcedCloses runs every node as its own process,
// publishes 1,000 runs, SIGKILLs a node mid-stream and restarts it,
// force-closes other nodes' connections through the management API, and
// checks that every result arrives.
func TestChainSurvivesKillsAndForcedCloses(t *testing.T) {
	e := newEnv(t, chainDir, chainPkg)
	e.extra = []string{"CHAIN_DELAY=1ms"}
	double := e.start("double", "double")
	e.start("split", "split")
	e.start("increment", "increment")
	e.start("square", "square")
	left, right := e.consume("left"), e.consume("right")

	const n = 1000
	values := make([]int64, n)
	wantLeft, wantRight := map[int64]bool{}, map[int64]bool{}
	for i := range values {
		values[i] = int64(i)
		wantLeft[2*int64(i)+1] = true
		wantRight[4*int64(i)*int64(i)] = true
	}
	ids := strings.Fields(e.run("publish", inputs(values), "publish", "start"))
	if len(ids) != n {
		t.Fatalf("publish printed %d run IDs, want %d", len(ids), n)
	}

	dups := collect(t, left, wantLeft, func(seen int) {
		switch seen {
		case 200:
			double.kill()
			t.Logf("SIGKILLed double after %d results", seen)
			e.start("double-2", "double")
		case 500:
			e.closeConnections("split")
			e.closeConnections("square")
			t.Logf("force-closed split's and square's connections after %d results", seen)
		}
	})
	dupsRight := collect(t, right, wantRight, nil)
	t.Logf("all %d runs delivered on both branches; duplicates: left %d, right %d", n, dups, dupsRight)
	for _, q := range []string{"input.dead", "doubled.dead", "left_in.dead", "right_in.dead"} {
		if c := e.queueCount(q); c != 0 {
			t.Errorf("%s holds %d messages, want 0", q, c)
		}
	}
}

// TestChainFailures: a handler failing twice delivers after two retries; a
// permanent error, a malformed body and a panicking handler each land in
// input.dead once, with their reason.
func TestChainFailures(t *testing.T) {
	e := newEnv(t, chainDir, chainPkg)
	e.start("double", "double")
	e.start("split", "split")
	e.start("increment", "increment")
	left := e.consume("left")

	const base = 1_000_000 // behaviour.FailTwiceFrom
	retried := []int64{base + 1, base + 2, base + 3}
	e.run("publish", inputs(append([]int64{-1, -2}, retried...)), "publish", "start")
	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("chain.work", "input", true, false, amqp.Publishing{
		MessageId: "malformed", DeliveryMode: amqp.Persistent, Body: []byte(`{"value": "seven"`),
	}); err != nil {
		t.Fatal(err)
	}
	ch.Close()

	want := map[int64]bool{}
	for _, v := range retried {
		want[2*v+1] = true
	}
	collect(t, left, want, nil)

	dead := e.drain("input.dead", 3)
	got := map[string]string{}
	for _, d := range dead {
		got[fmt.Sprint(d.Headers["x-dge-reason"])] = fmt.Sprintf("attempt=%v error=%v", d.Headers["x-dge-attempt"], d.Headers["x-dge-error"])
	}
	for reason, wantText := range map[string]string{
		"permanent":    "attempt=1 error=negative one is refused",
		"max-attempts": "attempt=3 error=handler panicked: negative two breaks the handler",
		"decode":       "attempt=1 error=decode Number:",
	} {
		if !strings.HasPrefix(got[reason], wantText) {
			t.Errorf("parked with reason %s: %q, want prefix %q (all: %v)", reason, got[reason], wantText, got)
		}
	}
	// No hot loop and no second copy: with retries of 300ms, anything still
	// cycling would show in input, input.retry or input.dead.
	e.run("publish", inputs([]int64{5}), "publish", "start")
	collect(t, left, map[int64]bool{11: true}, nil)
	for _, q := range []string{"input", "input.retry", "input.dead"} {
		if c := e.queueCount(q); c != 0 {
			t.Errorf("%s holds %d messages after the failures settled, want 0", q, c)
		}
	}
}

// TestChainSigtermAcksInFlight sends SIGTERM to a node with messages in its
// handlers: they finish, their outputs are confirmed and the inputs acked
// before the process exits 0; nothing is processed twice.
func TestChainSigtermAcksInFlight(t *testing.T) {
	e := newEnv(t, chainDir, chainPkg)
	e.extra = []string{"CHAIN_DELAY=300ms"}
	addr := freeAddr(t)
	double := e.start("double", "double", "-concurrency", "8", "-metrics-addr", addr, "-shutdown-timeout", "1m")
	const n = 40
	values := make([]int64, n)
	for i := range values {
		values[i] = int64(i)
	}
	e.run("publish", inputs(values), "publish", "start")
	inFlight := float64(0)
	deadline := time.Now().Add(time.Minute)
	for inFlight < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no message in flight within a minute")
		}
		time.Sleep(20 * time.Millisecond)
		inFlight = metric(addr, `dge_messages_in_flight{graph="chain",node="process.double"`)
	}
	if code := double.term(); code != 0 {
		t.Fatalf("double exited %d after SIGTERM, want 0:\n%s", code, double.stderr.String())
	}
	done, left := e.queueCount("doubled"), e.queueCount("input")
	t.Logf("at SIGTERM %v in flight; after exit %d outputs, %d inputs left", inFlight, done, left)
	if done+left != n {
		t.Errorf("outputs %d + inputs left %d = %d, want %d (lost or duplicated work)", done, left, done+left, n)
	}
	if float64(done) < inFlight {
		t.Errorf("%d outputs, fewer than the %v messages in flight at SIGTERM", done, inFlight)
	}
}
