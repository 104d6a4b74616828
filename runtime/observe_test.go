package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// freeAddr returns a local TCP address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape returns the samples at http://addr/metrics by series ("name{labels}").
func scrape(t *testing.T, addr string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil // not serving yet
	}
	defer resp.Body.Close()
	return parseSamples(t, resp.Body)
}

func parseSamples(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	samples := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed sample line %q", line)
		}
		samples[line[:i]] = line[i+1:]
	}
	return samples
}

// TestMetricsQueueGaugesMatchPassiveDeclares runs a node serving metrics
// with one message in its handler, four waiting in its queue, one waiting in
// its retry queue and one parked, and checks dge_queue_messages against
// passive declares of those queues; then the connection gauges across a
// lost connection.
func TestMetricsQueueGaugesMatchPassiveDeclares(t *testing.T) {
	e := testEdge("input")
	e.Retry = time.Hour // the message in input.retry stays there
	e.Prefetch, e.Concurrency = 1, 1
	release := make(chan struct{})
	var calls atomic.Int64
	g := testGraph("gauges",
		Start[num]("start", "input"),
		Process[num, num]("double", e, func(ctx context.Context, n num) (num, error) {
			calls.Add(1)
			select {
			case <-release:
				return num{2 * n.Value}, nil
			case <-ctx.Done():
				return num{}, ctx.Err()
			}
		}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	h := newHarness(t, g)
	h.publishNums("start", 1, 2, 3, 4, 5)
	h.publishRaw("input.dead", []byte(`{"value":6}`), amqp.Publishing{MessageId: "parked"})
	ch, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// The retry exchange routes by the edge queue's name to input.retry.
	if err := ch.PublishWithContext(t.Context(), h.g.RetryExchange, "input", true, false,
		amqp.Publishing{Body: []byte(`{"value":7}`), DeliveryMode: amqp.Persistent}); err != nil {
		t.Fatal(err)
	}
	ch.Close()

	addr := freeAddr(t)
	stop := h.background("double", "-metrics-addr", addr)
	for calls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	series := func(state string) string {
		return fmt.Sprintf(`dge_queue_messages{graph="gauges",node="process.double",queue="input",state=%q}`, state)
	}
	want := map[string]string{
		series("ready"):                                   "4",
		series("retrying"):                                "1",
		series("parked"):                                  "1",
		`dge_connection_up{graph="gauges"}`:               "1",
		`dge_connection_blocked{graph="gauges"}`:          "0",
		`dge_connection_reconnects_total{graph="gauges"}`: "0",
		`dge_build_info{go_version="` + goruntime.Version() + `",graph="gauges",version="(devel)"}`: "1",
	}
	// The node reads its queues every 5 s: wait for a read that sees the
	// handler holding its message.
	var got map[string]string
	deadline := time.Now().Add(time.Minute)
	for {
		got = scrape(t, addr)
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %s", k, got[k], v)
		}
	}
	// The gauges are what a passive declare of each queue reads.
	for state, queue := range map[string]string{"ready": "input", "retrying": "input.retry", "parked": "input.dead"} {
		if n := strconv.Itoa(h.count(queue)); got[series(state)] != n {
			t.Errorf("%s = %q, a passive declare of %s counts %s", series(state), got[series(state)], queue, n)
		}
	}
	// A process node runs no aggregate and no poll: neither family appears.
	for k := range got {
		if strings.HasPrefix(k, "dge_aggregate_") || strings.HasPrefix(k, "dge_poll_") {
			t.Errorf("a process node's metrics hold %s", k)
		}
	}
	if _, ok := got[`dge_handler_duration_seconds_count{graph="gauges",node="process.double",outcome="ok",queue="input"}`]; !ok {
		t.Errorf("no handler latency histogram for process.double")
	}

	h.closeRuntimeConnections()
	reconnected := map[string]string{`dge_connection_up{graph="gauges"}`: "1", `dge_connection_reconnects_total{graph="gauges"}`: "1"}
	for deadline := time.Now().Add(time.Minute); ; {
		got = scrape(t, addr)
		if got[`dge_connection_reconnects_total{graph="gauges"}`] == "1" && got[`dge_connection_up{graph="gauges"}`] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a lost connection: %v, want %v", got, reconnected)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(release)
	if got := h.consumeNums("result", 5); len(got) != 5 {
		t.Errorf("results %v, want 5", got)
	}
	if code := stop(); code != 0 {
		t.Errorf("node exited %d, want 0", code)
	}
}

// kindNodes returns a node of every consuming kind, by kind.
func kindNodes() map[string]Node {
	sum := func(_ context.Context, parts []num) (num, error) { return parts[0], nil }
	return map[string]Node{
		"process":   Process[num, num]("p", testEdge("a"), double, "b"),
		"fan_out":   FanOut[num]("f", testEdge("b"), "c", "d"),
		"aggregate": Aggregate[num, num]("j", testEdge("c"), []string{"process.p", "fan_out.f"}, time.Minute, sum, "e"),
		"poll": Poll[num, num]("q", testEdge("e"), time.Second, time.Minute,
			func(_ context.Context, n num) (num, bool, error) { return n, true, nil }, "z"),
		"split": Split[num, num]("s", testEdge("y"), func(_ context.Context, n num) ([]num, error) { return []num{n}, nil }, "x"),
		"gather": Fold[num, num]("g", testEdge("x"), "s", time.Minute, nil,
			func(_ context.Context, acc, n num) (num, error) { return num{acc.Value + n.Value}, nil }, "w"),
	}
}

// TestMetricsFamiliesFollowNodeKinds checks that a family specific to a
// node kind appears only with a node of that kind, and only with its series.
func TestMetricsFamiliesFollowNodeKinds(t *testing.T) {
	nodes := kindNodes()
	gatherFamilies := []string{"dge_gather_splits_open", "dge_gather_items_pending", "dge_gather_duplicates_total", "dge_gather_checkpoints_total"}
	tests := []struct {
		nodes      []string
		want, none []string
	}{
		{[]string{"process"}, []string{"dge_messages_consumed_total", "dge_handler_duration_seconds"},
			[]string{"dge_aggregate_parts_rotated_total", "dge_poll_checks_pending_total"}},
		{[]string{"fan_out"}, []string{"dge_messages_published_total"},
			[]string{"dge_handler_duration_seconds", "dge_aggregate_parts_rotated_total", "dge_poll_checks_pending_total"}},
		{[]string{"aggregate", "process"}, []string{"dge_aggregate_parts_rotated_total", "dge_handler_duration_seconds"},
			[]string{"dge_poll_checks_pending_total", `dge_aggregate_parts_rotated_total{graph="g",node="process.p"`}},
		{[]string{"poll"}, []string{"dge_poll_checks_pending_total"}, []string{"dge_aggregate_parts_rotated_total"}},
		{[]string{"split"}, []string{"dge_split_items_total", "dge_handler_duration_seconds"}, gatherFamilies},
		{[]string{"gather", "process"}, gatherFamilies,
			[]string{"dge_split_items_total", `dge_gather_splits_open{graph="g",node="process.p"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.nodes, "+"), func(t *testing.T) {
			m := newMetrics("g")
			for _, k := range tt.nodes {
				m.node(nodes[k])
			}
			var b strings.Builder
			if err := m.write(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %s in:\n%s", w, out)
				}
			}
			for _, n := range tt.none {
				if strings.Contains(out, n) {
					t.Errorf("%s in:\n%s", n, out)
				}
			}
		})
	}
}

// jsonLines decodes every stderr line that is a JSON object, failing the
// test on a line that repeats a key.
func jsonLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if k := repeatedKey(t, line); k != "" {
			t.Errorf("key %q twice in log line %s", k, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// repeatedKey returns the first top-level key that a JSON object line
// holds twice, or "".
func repeatedKey(t *testing.T, line string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil { // {
		t.Fatalf("log line %q: %v", line, err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		k := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
	}
	return ""
}

// find returns the log lines whose msg is msg.
func find(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestHandlerLogsFollowTheRun runs a node at debug level whose handler logs
// with slog.InfoContext, and checks that the line is the runtime's JSON
// carrying the graph, node, run ID and message ID, and that every handled
// message gets one debug line with its outcome.
func TestHandlerLogsFollowTheRun(t *testing.T) {
	h := newHarness(t, chainGraph("handlerlog", func(ctx context.Context, n num) (num, error) {
		slog.InfoContext(ctx, "doubling", "value", n.Value)
		return num{2 * n.Value}, nil
	}))
	env := func(k string) string {
		if k == "DGE_LOG" {
			return "debug"
		}
		return h.env(k)
	}
	cancel, wait, logs := h.backgroundLogs(env, "double")
	runs := h.publishNums("start", 1, 2)
	h.consumeNums("result", 2)
	h.waitSettled("input")
	cancel()
	if code := wait(); code != 0 {
		t.Fatalf("node exited %d", code)
	}
	lines := jsonLines(t, logs.String())
	handler := find(lines, "doubling")
	handled := find(lines, "handled")
	if len(handler) != 2 || len(handled) != 2 {
		t.Fatalf("%d handler lines and %d handled lines, want 2 of each:\n%s", len(handler), len(handled), logs.String())
	}
	for _, l := range append(handler, handled...) {
		if l["graph"] != "handlerlog" || !slices.Contains(runs, fmt.Sprint(l["run_id"])) || len(fmt.Sprint(l["message_id"])) != 32 || l["attempt"] != 1.0 {
			t.Errorf("log line %v: want graph, one of the runs %v, a message ID and attempt 1", l, runs)
		}
	}
	for _, l := range handler {
		if l["node"] != "process.double" || l["level"] != "INFO" {
			t.Errorf("handler line %v: want node process.double at INFO", l)
		}
	}
	for _, l := range handled {
		if l["node"] != "process.double" || l["level"] != "DEBUG" || l["outcome"] != "done" || l["duration"] == nil {
			t.Errorf("handled line %v: want node, DEBUG, outcome done and a duration", l)
		}
	}
}

// TestLocalLogsEachKeyOnce runs local at debug level and checks that no
// line repeats a key (graph was printed twice), and that a handler's
// slog.InfoContext line carries the run.
func TestLocalLogsEachKeyOnce(t *testing.T) {
	g := chainGraph("locallog", func(ctx context.Context, n num) (num, error) {
		slog.InfoContext(ctx, "doubling", "value", n.Value)
		return num{2 * n.Value}, nil
	})
	var out, errb syncBuffer
	env := func(k string) string {
		if k == "DGE_LOG" {
			return "debug"
		}
		return ""
	}
	code := run(t.Context(), g, []string{"local", "-envelope"}, env, strings.NewReader(`{"value": 3}`), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	var env2 resultLine
	if err := json.Unmarshal([]byte(out.String()), &env2); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	lines := jsonLines(t, errb.String())
	if len(lines) == 0 {
		t.Fatalf("no JSON log lines at debug level:\n%s", errb.String())
	}
	for _, l := range lines {
		if l["graph"] != "locallog" {
			t.Errorf("line %v: want graph locallog", l)
		}
	}
	handler := find(lines, "doubling")
	if len(handler) != 1 || handler[0]["run_id"] != env2.RunID || handler[0]["node"] != "process.double" {
		t.Errorf("handler lines %v, want one with run %s and node process.double", handler, env2.RunID)
	}
}

// TestConsumeEnvelope checks that consume -envelope prints each result with
// its node, run ID and message ID, the run IDs being those publish printed.
func TestConsumeEnvelope(t *testing.T) {
	h := newHarness(t, chainGraph("consumeenv", double))
	stop := h.background("double")
	runs := h.publishNums("start", 1, 2)
	code, out, errs := h.exec("", "consume", "result", "-n", "2", "-envelope", "-timeout", "2m")
	if code != 0 {
		t.Fatalf("consume exited %d: %s", code, errs)
	}
	var gotRuns []string
	var results []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var keys map[string]json.RawMessage
		var e resultLine
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if len(keys) != 4 || e.Node != "terminate.result" || len(e.MessageID) != 32 {
			t.Errorf("line %q: want exactly node terminate.result, run_id, message_id and result", line)
		}
		gotRuns = append(gotRuns, e.RunID)
		results = append(results, string(e.Result))
		// The result is the one of the run: value 1 doubles to 2, 2 to 4.
		want := map[string]string{runs[0]: `{"value":2}`, runs[1]: `{"value":4}`}[e.RunID]
		if string(e.Result) != want {
			t.Errorf("run %s: result %s, want %s", e.RunID, e.Result, want)
		}
	}
	slices.Sort(gotRuns)
	slices.Sort(runs)
	if !slices.Equal(gotRuns, runs) {
		t.Errorf("run IDs %v, want those publish printed %v (results %v)", gotRuns, runs, results)
	}
	if code := stop(); code != 0 {
		t.Errorf("node exited %d", code)
	}
}

// TestConsumeFailureRecords checks that consume -envelope prints the failure
// record of a run parked upstream, and that plain consume skips it and says
// so on stderr.
func TestConsumeFailureRecords(t *testing.T) {
	h := newHarness(t, chainGraph("consumefail", func(_ context.Context, n num) (num, error) {
		if n.Value < 0 {
			return num{}, Permanent(fmt.Errorf("negative value %d", n.Value))
		}
		return num{2 * n.Value}, nil
	}))
	stop := h.background("double")
	runs := h.publishNums("start", -1, 2)
	code, out, errs := h.exec("", "consume", "result", "-n", "2", "-envelope", "-timeout", "2m")
	if code != 0 {
		t.Fatalf("consume exited %d: %s", code, errs)
	}
	want := map[string]string{
		runs[0]: `{"node":"terminate.result","run_id":"` + runs[0] + `","message_id":"%s","failed":{"node":"process.double","reason":"permanent","error":"negative value -1"}}`,
		runs[1]: `{"node":"terminate.result","run_id":"` + runs[1] + `","message_id":"%s","result":{"value":4}}`,
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			RunID     string `json:"run_id"`
			MessageID string `json:"message_id"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if w := fmt.Sprintf(want[e.RunID], e.MessageID); line != w {
			t.Errorf("line\n%s\nwant\n%s", line, w)
		}
		delete(want, e.RunID)
	}
	if len(want) != 0 {
		t.Errorf("no line for runs %v", want)
	}

	// Without -envelope the failure record is skipped, and counted.
	h.publishNums("start", -3)
	h.publishNums("start", 5)
	code, out, errs = h.exec("", "consume", "result", "-n", "1", "-timeout", "2m")
	if code != 0 || out != "{\"value\":10}\n" {
		t.Errorf("consume exited %d with %q, want 0 and the one result", code, out)
	}
	if !strings.Contains(errs, "consume: skipped 1 failure record of runs that failed upstream (consume -envelope prints them)") {
		t.Errorf("stderr %q, want the count of skipped failure records", errs)
	}
	if code := stop(); code != 0 {
		t.Errorf("node exited %d", code)
	}
}
