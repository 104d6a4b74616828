package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	amqp "github.com/rabbitmq/amqp091-go"
)

// num is the message type of the test graphs.
type num struct {
	Value int `json:"value"`
}

// harness runs a graph's commands in-process against a private vhost whose
// topology it declares.
type harness struct {
	t    *testing.T
	vh   brokertest.Vhost
	conn *amqp.Connection
	g    Graph
}

func newHarness(t *testing.T, g Graph) *harness {
	t.Helper()
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	g.Vhost = vh.Name
	if err := brokertest.Declare(conn, g.topologyParams()); err != nil {
		t.Fatalf("declare topology: %v", err)
	}
	return &harness{t: t, vh: vh, conn: conn, g: g}
}

// newBareHarness gives a vhost without any topology.
func newBareHarness(t *testing.T, g Graph) *harness {
	t.Helper()
	vh := brokertest.NewVhost(t)
	g.Vhost = vh.Name
	return &harness{t: t, vh: vh, conn: vh.Dial(t), g: g}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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

func (h *harness) env(k string) string {
	switch k {
	case "DGE_AMQP_URL":
		return h.vh.AMQPURL
	case "DGE_CONNECTION_NAME":
		return h.t.Name() + " runtime"
	case "DGE_LOG":
		if l := os.Getenv("TEST_DGE_LOG"); l != "" {
			return l
		}
		return "warn"
	}
	return ""
}

// resultLine is a result as consume -envelope and local -envelope print it
// (package cli writes it).
type resultLine struct {
	Node      string          `json:"node"`
	RunID     string          `json:"run_id"`
	MessageID string          `json:"message_id"`
	Result    json.RawMessage `json:"result"`
}

// exec runs a command to completion.
func (h *harness) exec(stdin string, args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	var out, errb syncBuffer
	code = run(h.t.Context(), h.g, args, h.env, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// background runs a long-lived command; stop cancels it (as SIGTERM does)
// and returns its exit code.
func (h *harness) background(args ...string) (stop func() int) {
	h.t.Helper()
	cancel, wait := h.backgroundCtl(args...)
	return func() int { cancel(); return wait() }
}

// backgroundCtl runs a long-lived command; cancel signals it, wait returns
// its exit code once it ended.
func (h *harness) backgroundCtl(args ...string) (cancel func(), wait func() int) {
	h.t.Helper()
	return h.backgroundEnv(h.env, args...)
}

// backgroundAs runs a long-lived command whose AMQP connection is named
// connName, so that a test can close that command's connection alone.
func (h *harness) backgroundAs(connName string, args ...string) (stop func() int) {
	h.t.Helper()
	cancel, wait := h.backgroundEnv(func(k string) string {
		if k == "DGE_CONNECTION_NAME" {
			return connName
		}
		return h.env(k)
	}, args...)
	return func() int { cancel(); return wait() }
}

func (h *harness) backgroundEnv(env func(string) string, args ...string) (cancel func(), wait func() int) {
	h.t.Helper()
	cancel, wait, _ = h.backgroundLogs(env, args...)
	return cancel, wait
}

// backgroundLogs is backgroundEnv that also returns what the command
// writes to stderr (its logs).
func (h *harness) backgroundLogs(env func(string) string, args ...string) (cancel func(), wait func() int, logs *syncBuffer) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb := &syncBuffer{}
	var stderr io.Writer = errb
	if os.Getenv("TEST_DGE_LOG") != "" {
		stderr = io.MultiWriter(os.Stderr, errb)
	}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, h.g, args, env, strings.NewReader(""), &syncBuffer{}, stderr)
	}()
	var once sync.Once
	code := 0
	wait = func() int {
		once.Do(func() {
			code = <-done
			if h.t.Failed() || code != 0 {
				h.t.Logf("%v stderr:\n%s", args, errb.String())
			}
		})
		return code
	}
	h.t.Cleanup(func() { cancel(); wait() })
	return cancel, wait, errb
}

// closeRuntimeConnections force-closes, through the management API, the
// connections of the harness's runtime commands.
func (h *harness) closeRuntimeConnections() {
	h.t.Helper()
	h.vh.CloseConnections(h.t, h.t.Name()+" runtime")
}

// publishNums publishes values through the publish command and returns the
// run IDs.
func (h *harness) publishNums(start string, values ...int) []string {
	h.t.Helper()
	var in strings.Builder
	for _, v := range values {
		in.WriteString(`{"value": ` + strconv.Itoa(v) + "}\n")
	}
	code, out, errs := h.exec(in.String(), "publish", start)
	if code != 0 {
		h.t.Fatalf("publish exited %d: %s", code, errs)
	}
	ids := strings.Fields(out)
	if len(ids) != len(values) {
		h.t.Fatalf("publish printed %d run IDs for %d inputs", len(ids), len(values))
	}
	return ids
}

// consumeNums reads n results through the consume command.
func (h *harness) consumeNums(terminate string, n int) []int {
	h.t.Helper()
	code, out, errs := h.exec("", "consume", terminate, "-n", strconv.Itoa(n), "-timeout", "2m")
	if code != 0 {
		h.t.Fatalf("consume exited %d: %s", code, errs)
	}
	var got []int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v num
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			h.t.Fatalf("consume printed %q: %v", line, err)
		}
		got = append(got, v.Value)
	}
	return got
}

// confirmChannel opens a channel of the test's own connection in confirm
// mode; the caller closes it.
func (h *harness) confirmChannel() *amqp.Channel {
	h.t.Helper()
	ch, err := h.conn.Channel()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		h.t.Fatal(err)
	}
	return ch
}

// publishRaw publishes a body straight to a queue through the work exchange.
func (h *harness) publishRaw(queue string, body []byte, p amqp.Publishing) {
	h.t.Helper()
	ch := h.confirmChannel()
	defer ch.Close()
	p.Body = body
	p.DeliveryMode = amqp.Persistent
	dc, err := ch.PublishWithDeferredConfirmWithContext(h.t.Context(), h.g.WorkExchange, queue, true, false, p)
	if err != nil || !dc.Wait() {
		h.t.Fatalf("publish to %s: %v", queue, err)
	}
}

// waitMessages gets messages from queue until it has n of them (acking
// them), failing the test after a generous deadline.
func (h *harness) waitMessages(queue string, n int) []amqp.Delivery {
	h.t.Helper()
	return brokertest.WaitMessages(h.t, h.conn, queue, n)
}

// count returns the ready messages in queue (passive declare: exact).
func (h *harness) count(queue string) int {
	h.t.Helper()
	ch, err := h.conn.Channel()
	if err != nil {
		h.t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		h.t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages
}

// waitEmpty waits until queue has no ready messages and no unacked
// deliveries (read from the management API), failing after a deadline.
func (h *harness) waitSettled(queue string) {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		q, err := h.vh.Client.GetQueue(h.vh.Name, queue)
		if err == nil && q.Messages == 0 && q.MessagesUnacknowledged == 0 && q.MessagesReady == 0 && h.count(queue) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("queue %s still holds messages at the deadline", queue)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testEdge(queue string) Edge {
	return Edge{Queue: queue, Message: "num", Retry: 300 * time.Millisecond, MaxAttempts: 3, Prefetch: 32, Concurrency: 4}
}

func testGraph(name string, nodes ...Node) Graph {
	return Graph{Name: name, Source: "test.dge.hcl", WorkExchange: name + ".work", RetryExchange: name + ".retry", Nodes: nodes}
}
