package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/parked"
)

// parkLike publishes n parked-like messages straight into dead, as the
// runtime parks them: IDs, reason, error, node, attempts and an x-death
// history. Message i has ID prefix+i, run "r"+(i%2) and reason reasons[i%len].
func parkLike(t *testing.T, ch *amqp.Channel, dead, node, prefix string, n int, reasons ...string) {
	t.Helper()
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", dead, true, false, amqp.Publishing{
			MessageId: fmt.Sprintf("%s%d", prefix, i), Timestamp: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC),
			DeliveryMode: amqp.Persistent, ContentType: "application/json",
			Body: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Headers: amqp.Table{
				"x-dge-run-id": fmt.Sprintf("r%d", i%2), "x-dge-source": "start.start",
				"x-dge-attempt": int64(3), "x-dge-reason": reasons[i%len(reasons)],
				"x-dge-error": "boom " + fmt.Sprint(i), "x-dge-node": node, "x-dge-parked-at": "2026-12-01T20:00:23.000Z",
				"x-dge-first-seen": "2026-12-01T19:00:00Z", "x-dge-poll-since": "2026-12-01T19:00:00Z",
				"x-death": []any{amqp.Table{"count": int64(3), "queue": "a_in", "reason": "rejected", "exchange": "c.work"}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish to %s: confirmed %v, %v", dead, ok, err)
		}
	}
}

// readyCount returns a queue's ready messages by passive declare.
func readyCount(t *testing.T, conn *amqp.Connection, queue string) int {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// drain takes every message of queue (acknowledging them) in order.
func drain(t *testing.T, conn *amqp.Connection, queue string) []amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

func ids(ds []amqp.Delivery) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.MessageId)
	}
	return strings.Join(s, ",")
}

// TestParkedCLI drives list, redrive and purge on the real broker against
// parked-like messages of an applied graph: list (text and -json) reports
// every field and leaves every message parked; filters select; bad input
// errs; -dry-run moves nothing; redrive moves the matching messages with
// fresh headers and leaves the others parked in order (before = moved +
// after); purge deletes what it prints; a redrive while another holds the
// queue is refused; on classic and on quorum queues.
func TestParkedCLI(t *testing.T) {
	for _, queueType := range []string{"classic", "quorum"} {
		t.Run(queueType, func(t *testing.T) { testParked(t, queueType) })
	}
}

func testParked(t *testing.T, queueType string) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	src := filepath.Join(dir, "graph.dge.hcl")
	if err := os.WriteFile(src, []byte(strings.Replace(readFile(t, src), `queue_type = "classic"`, fmt.Sprintf("queue_type = %q", queueType), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	parkLike(t, ch, "a_in.dead", "process.a", "a", 6, "max-attempts", "permanent")
	parkLike(t, ch, "out.dead", "terminate.out", "o", 2, "decode")

	// list -json: every message, every field, nothing taken.
	code, out, errs := runIn(t, environ, "parked", "list", "-json", dir)
	if code != 0 {
		t.Fatalf("list -json: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("list -json: %d lines, want 8:\n%s", len(lines), out)
	}
	var first parked.Message
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := parked.Message{Node: "process.a", Queue: "a_in.dead", RunID: "r0", MessageID: "a0", Reason: "max-attempts",
		Error: "boom 0", Attempt: 3, ParkedAt: "2026-12-01T20:00:23Z", Body: `{"n":0}`}
	if first != want {
		t.Errorf("list -json first line:\n got %+v\nwant %+v", first, want)
	}
	// Listing leaves every message (a quorum queue takes them back
	// asynchronously: waitReady polls).
	waitReady(t, conn, "a_in.dead", 6)
	waitReady(t, conn, "out.dead", 2)

	// Text list with filters.
	code, out, errs = runIn(t, environ, "parked", "list", "-node", "process.a", "-reason", "permanent", "-run", "r1", dir)
	if code != 0 || strings.Count(out, "process.a  a_in.dead") != 3 || !strings.Contains(out, "message a5  permanent (attempt 3)") {
		t.Fatalf("list -node -reason -run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		errs string
	}{
		{"unknown node", []string{"list", "-node", "process.nope"}, 1, "valid: process.a, terminate.out"},
		{"no match", []string{"list", "-reason", "timeout"}, 0, "no parked message matches (-reason timeout)"},
		{"incomplete-split accepted", []string{"list", "-reason", "incomplete-split"}, 0, "no parked message matches (-reason incomplete-split)"},
		{"unknown reason", []string{"redrive", "-reason", "incomplete-splt", "-auto-approve"}, 1, `-reason "incomplete-splt" is no reason dge parks a message for; give one of max-attempts,`},
		{"redrive no match", []string{"redrive", "-auto-approve", "-run", "r9"}, 0, "no parked message matches (-run r9)"},
		{"no terminal", []string{"redrive", "-reason", "permanent"}, 1, "-auto-approve"},
		{"negative rate", []string{"redrive", "-rate", "-1"}, 1, "-rate -1 is negative"},
		{"unknown subcommand", []string{"move"}, 1, `unknown subcommand "move"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runIn(t, environ, append(append([]string{"parked"}, tc.args...), dir)...)
			if code != tc.code || !strings.Contains(errs, tc.errs) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.errs)
			}
		})
	}

	// -dry-run counts and moves nothing.
	code, out, errs = runIn(t, environ, "parked", "redrive", "-dry-run", dir)
	if code != 0 || !strings.Contains(out, "dge will redrive 8 messages") || !strings.Contains(out, "Dry run") ||
		!regexpMatch(out, `process\.a\s+permanent\s+3`) || !regexpMatch(out, `terminate\.out\s+decode\s+2`) {
		t.Fatalf("redrive -dry-run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	waitReady(t, conn, "a_in.dead", 6)
	if a, d := readyCount(t, conn, "a_in"), readyCount(t, conn, "a_in.dead"); a != 0 || d != 6 {
		t.Fatalf("after -dry-run: a_in %d, a_in.dead %d; want 0 and 6", a, d)
	}

	// A redrive while another holds the queue is refused.
	other := vh.Dial(t)
	och, err := other.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := och.QueueDeclare("dge.parked-lock.a_in.dead", false, true, true, false, nil); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runIn(t, environ, "parked", "redrive", "-auto-approve", "-node", "process.a", dir)
	if code != 1 || !strings.Contains(errs, "another dge parked redrive or purge of this queue is running") {
		t.Fatalf("concurrent redrive: exit %d, stderr %q; want a refusal", code, errs)
	}
	other.Close()
	// The refused redrive counted the messages first (a read): a quorum
	// queue takes them back asynchronously.
	waitReady(t, conn, "a_in.dead", 6)

	// Redrive the permanent ones: fresh headers, IDs kept, the rest parked in order.
	before := readyCount(t, conn, "a_in.dead")
	code, out, errs = runIn(t, environ, "parked", "redrive", "-auto-approve", "-node", "process.a", "-reason", "permanent", dir)
	if code != 0 || !strings.Contains(out, "Redrove 3 messages in ") {
		t.Fatalf("redrive: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	waitReady(t, conn, "a_in.dead", 3)
	moved := drain(t, conn, "a_in")
	after := drain(t, conn, "a_in.dead")
	if before != len(moved)+len(after) || ids(moved) != "a1,a3,a5" || ids(after) != "a0,a2,a4" {
		t.Fatalf("redrive: before %d, moved %s, still parked %s; want a1,a3,a5 moved and a0,a2,a4 parked in order", before, ids(moved), ids(after))
	}
	for _, d := range moved {
		for _, h := range []string{"x-death", "x-dge-attempt", "x-dge-first-seen", "x-dge-poll-since", "x-dge-reason", "x-dge-error", "x-dge-node"} {
			if _, ok := d.Headers[h]; ok {
				t.Errorf("redriven %s keeps header %s", d.MessageId, h)
			}
		}
		if d.Headers["x-dge-redriven"] != int64(1) || d.Headers["x-dge-run-id"] != "r1" || d.Headers["x-dge-source"] != "start.start" {
			t.Errorf("redriven %s headers %v; want x-dge-redriven 1, run r1, source kept", d.MessageId, d.Headers)
		}
	}

	// Purge deletes what it prints.
	code, out, errs = runIn(t, environ, "parked", "purge", "-auto-approve", "-node", "terminate.out", dir)
	if code != 0 || strings.Count(out, "deleted terminate.out  out.dead") != 2 || !strings.Contains(out, "Deleted 2 messages in ") {
		t.Fatalf("purge: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if n := readyCount(t, conn, "out.dead"); n != 0 {
		t.Fatalf("after purge: out.dead holds %d", n)
	}
}

// regexpMatch reports whether out matches the regular expression re.
func regexpMatch(out, re string) bool { return regexp.MustCompile(re).MatchString(out) }
