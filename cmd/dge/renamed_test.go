package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/envelope"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/status"
	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/cli"
)

// TestRenameWithOldProgramRunning does what the user did: process.a's
// program, generated before terminate out's queue was renamed to results,
// keeps running while the rename is applied with a moved block. Its
// outputs still reach the renamed queue, nothing parked. Once the moved
// block is removed and applied (plan says what that means), its next
// output is returned: the input is parked at once with reason unroutable
// and a text naming the exchange, the key and the fix, the
// dge_publish_returned_total counter counts it, and dge status -check
// names the node and exits 2.
func TestRenameWithOldProgramRunning(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "1s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}

	// The program generated from the graph before the rename, running a.
	type m struct {
		V int `json:"v"`
	}
	old := dge.Graph{
		Name: "c", Source: "graph.dge.hcl", Vhost: vh.Name, WorkExchange: "c.work", RetryExchange: "c.retry", QueueType: "classic",
		Nodes: []dge.Node{
			dge.Start[m]("start", "a_in"),
			dge.Process[m, m]("a", dge.Edge{Queue: "a_in", Message: "M", Retry: time.Second, MaxAttempts: 5},
				func(_ context.Context, in m) (m, error) { return in, nil }, "out"),
			dge.Terminate[m]("out", dge.Edge{Queue: "out", Message: "M", Retry: time.Second, MaxAttempts: 5}),
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	getenv := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return vh.AMQPURL
		case "DGE_LOG":
			return "error"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var progErr strings.Builder
	wg.Go(func() {
		cli.Run(ctx, old, []string{"a", "-metrics-addr", metricsAddr}, getenv, strings.NewReader(""), io.Discard, &progErr)
	})
	t.Cleanup(func() { cancel(); wg.Wait() })

	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	publish := func(id string) {
		t.Helper()
		err := ch.PublishWithContext(t.Context(), "c.work", "a_in", true, false, amqp.Publishing{
			Body: []byte(`{"v":1}`), DeliveryMode: amqp.Persistent, MessageId: id, Headers: amqp.Table{"x-dge-run-id": "run-" + id}})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(queue string) (amqp.Delivery, bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			d, ok, err := ch.Get(queue, true)
			if err != nil {
				t.Fatalf("get %s: %v", queue, err)
			}
			if ok {
				return d, true
			}
		}
		return amqp.Delivery{}, false
	}

	// The rename, applied with the old program running.
	path := filepath.Join(dir, "graph.dge.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(src), `queue   = "out"`, `queue   = "results"`, 1)
	moved := renamed + "moved {\n  from = \"out\"\n  to   = \"results\"\n}\n"
	if err := os.WriteFile(path, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIn(t, environ, "plan", dir)
	if code != 0 || !strings.Contains(out, "queue results also takes the old key out while the moved block stays") {
		t.Fatalf("plan of the rename: exit %d, want the old key's binding explained\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply of the rename: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	publish("m1")
	if d, ok := get("results"); !ok || d.MessageId == "" {
		t.Fatalf("the old program's output did not reach the renamed queue results\nprogram's stderr:\n%s", progErr.String())
	}
	if d, ok, _ := ch.Get("a_in.dead", true); ok {
		t.Fatalf("with the moved block, the old program parked its input: %v %v", d.Headers[envelope.HeaderReason], d.Headers[envelope.HeaderError])
	}

	// The moved block removed: its binding goes, and the old program's
	// outputs are returned.
	if err := os.WriteFile(path, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runIn(t, environ, "plan", dir)
	if code != 0 || !strings.Contains(out, `- binding "c.work->results[out]"`) || !strings.Contains(out, "queue results no longer takes the old key out") {
		t.Fatalf("plan without the moved block: exit %d, want the old key's binding removed\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply without the moved block: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	publish("m2")
	d, ok := get("a_in.dead")
	if !ok {
		t.Fatalf("the input whose output was returned was not parked\nprogram's stderr:\n%s", progErr.String())
	}
	reason, _ := d.Headers[envelope.HeaderReason].(string)
	text, _ := d.Headers[envelope.HeaderError].(string)
	if reason != string(envelope.Unroutable) || d.MessageId != "m2" {
		t.Errorf("parked %s with reason %q, want m2 with %q", d.MessageId, reason, envelope.Unroutable)
	}
	for _, w := range []string{"c.work", "key out", "312 NO_ROUTE", "topology changed", "program generated from the current graph"} {
		if !strings.Contains(text, w) {
			t.Errorf("parked error %q does not say %q", text, w)
		}
	}
	if a := d.Headers["x-dge-attempt"]; a != nil && a != int32(1) && a != int64(1) {
		t.Errorf("parked at attempt %v, want at once (attempt 1)", a)
	}

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !metricLine(string(body), "dge_publish_returned_total", "1") {
		t.Errorf("metrics do not count the returned publish:\n%s", grepLines(string(body), "dge_publish_returned_total"))
	}

	// dge status -check flags the node (the broker's statistics lag up to
	// 5 s, and a channel may be listed before its connection's name).
	var checkOut string
	const flagged = `process.a (connection "c a"): 1 publish returned unroutable (312 NO_ROUTE`
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Second) {
		code, checkOut, errs = runIn(t, environ, "status", "-check", dir)
		if code == exitUnhealthy && strings.Contains(checkOut, flagged) || time.Now().After(deadline) {
			break
		}
	}
	if code != exitUnhealthy || !strings.Contains(checkOut, flagged) {
		t.Fatalf("status -check: exit %d, want 2 and process.a flagged\nstdout:\n%s\nstderr:\n%s", code, checkOut, errs)
	}
	_, js, _ := runIn(t, environ, "status", "-json", dir)
	var r status.Report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Returned) != 1 || r.Returned[0].Node != "process.a" || r.Returned[0].Returned != 1 || r.Healthy {
		t.Errorf("status -json returned %+v healthy %v, want process.a with 1 returned, unhealthy", r.Returned, r.Healthy)
	}
}

// metricLine reports whether a line of the exposition text names metric
// and ends with value.
func metricLine(text, metric, value string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, metric) && strings.HasSuffix(l, " "+value) {
			return true
		}
	}
	return false
}

func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
