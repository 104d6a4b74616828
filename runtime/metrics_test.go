package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// write writes m's metrics as a scrape of its endpoint without an Accept
// header gets them: the Prometheus text format.
func (m *metrics) write(w io.Writer) error {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	_, err := io.Copy(w, rec.Body)
	return err
}

// outcomeGraph is start → process.work → poll.check → terminate.result.
// work passes 1 on, passes 2 on at its second attempt, parks 3 (a
// permanent error) and fails 4 at every attempt (parked after the third);
// check says not done at each value's first check.
func outcomeGraph(name string) Graph {
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		return calls[key]
	}
	g := testGraph(name,
		Start[num]("start", "input"),
		Process[num, num]("work", testEdge("input"), func(_ context.Context, n num) (num, error) {
			c := count(fmt.Sprint("work", n.Value))
			switch {
			case n.Value == 2 && c == 1, n.Value == 4:
				return num{}, errors.New("transient")
			case n.Value == 3:
				return num{}, Permanent(errors.New("not allowed"))
			}
			return n, nil
		}, "checked"),
		Poll[num, num]("check", testEdge("checked"), 50*time.Millisecond, time.Minute, func(_ context.Context, n num) (num, bool, error) {
			return n, count(fmt.Sprint("check", n.Value)) > 1, nil
		}, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	g.PollExchange = name + ".poll"
	return g
}

// TestMetricsEndpointOnTheBroker runs a program serving metrics on
// RabbitMQ whose handlers return a result, fail once, fail for good, fail
// at every attempt and say "not done": dge_handler_duration_seconds counts
// each call under the outcome its return had (ok, retry, park, pending);
// the endpoint also serves the Go and process collectors' families,
// negotiates OpenMetrics, and promtool finds nothing wrong in what it
// serves.
func TestMetricsEndpointOnTheBroker(t *testing.T) {
	h := newHarness(t, outcomeGraph("outcomes"))
	addr := freeAddr(t)
	stop := h.background("all", "-metrics-addr", addr)
	h.publishNums("start", 1, 2, 3, 4)
	if got := h.consumeNums("result", 2); len(got) != 2 {
		t.Fatalf("results %v, want 2", got)
	}
	h.waitMessages("input.dead", 2)

	count := func(node, queue, outcome string) string {
		return fmt.Sprintf(`dge_handler_duration_seconds_count{graph="outcomes",node=%q,outcome=%q,queue=%q}`, node, outcome, queue)
	}
	want := map[string]string{
		count("process.work", "input", "ok"):      "2", // 1, and 2 at its second attempt
		count("process.work", "input", "retry"):   "3", // 2 once, 4 at attempts 1 and 2
		count("process.work", "input", "park"):    "2", // 3 (permanent), 4 at its last attempt
		count("poll.check", "checked", "pending"): "2", // the first check of each
		count("poll.check", "checked", "ok"):      "2",
		count("poll.check", "checked", "retry"):   "0",
		count("poll.check", "checked", "park"):    "0",
	}
	got := scrape(t, addr)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %s", k, got[k], v)
		}
	}
	if _, ok := got[count("process.work", "input", "pending")]; ok {
		t.Errorf("a process node has a pending series")
	}
	for _, family := range []string{"go_goroutines", "go_gc_duration_seconds_count", "go_memstats_heap_alloc_bytes",
		"go_info", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if !hasFamily(got, family) {
			t.Errorf("no %s series", family)
		}
	}

	body, ctype := get(t, addr, "")
	if !strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q without an Accept header, want the text format", ctype)
	}
	om, ctype := get(t, addr, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if !strings.HasPrefix(ctype, "application/openmetrics-text") || !strings.HasSuffix(om, "# EOF\n") {
		t.Errorf("Content-Type %q asking for OpenMetrics (ends %q), want OpenMetrics", ctype, om[max(0, len(om)-10):])
	}
	promtoolCheck(t, body)
	if code := stop(); code != 0 {
		t.Errorf("program exited %d, want 0", code)
	}
}

func hasFamily(samples map[string]string, name string) bool {
	for k := range samples {
		if k == name || strings.HasPrefix(k, name+"{") {
			return true
		}
	}
	return false
}

// get returns the body and Content-Type of GET http://addr/metrics with
// Accept accept ("": none).
func get(t *testing.T, addr, accept string) (body, contentType string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.Header.Get("Content-Type")
}

// promtoolCheck runs `promtool check metrics` on exposition, failing the
// test on any problem it reports (lint included), or when promtool is not
// installed.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: run scripts/ensure-tools.sh (make test runs it) to install it")
	}
	cmd := exec.CommandContext(t.Context(), path, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics: %v\n%s\nof:\n%s", err, out.String(), exposition)
	}
}

// TestPromtoolAcceptsEveryFamily runs promtool over the metrics of a
// program with a node of every kind, a route label that needs escaping and
// a queue read, so that every dge_* family is in what it checks.
func TestPromtoolAcceptsEveryFamily(t *testing.T) {
	m := newMetrics("g")
	for _, n := range kindNodes() {
		m.node(n)
	}
	r := m.node(Route[num]("r", testEdge("in"), label, map[string]string{"one": "t1", `a"b\c`: "t2"}, "td"))
	r.routeTaken["one"].Add(3)
	m.queues = append(m.queues, &queueGauges{node: "process.p", queue: "a"})
	m.queues[0].read.Store(true)
	m.nodes["process.p"].observe(outcomeRetry, 30*time.Millisecond)
	var b strings.Builder
	if err := m.write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, f := range nodeFamilies {
		if !strings.Contains(out, "# TYPE "+f.name+" ") {
			t.Errorf("no %s in:\n%s", f.name, out)
		}
	}
	for _, w := range []string{
		`dge_route_messages_total{graph="g",label="a\"b\\c",node="route.r"} 0`,
		`dge_queue_messages{graph="g",node="process.p",queue="a",state="parked"} 0`,
		`dge_handler_duration_seconds_bucket{graph="g",node="process.p",outcome="retry",queue="a",le="0.05"} 1`,
		`dge_handler_duration_seconds_count{graph="g",node="poll.q",outcome="pending",queue="e"} 0`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no %s in:\n%s", w, out)
		}
	}
	promtoolCheck(t, out)
}
