package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traceLocal runs g on the in-memory broker with an SDK tracer provider
// recording every span, and returns the recorder and the running graph.
func traceLocal(t *testing.T, g Graph) (*tracetest.SpanRecorder, *sdktrace.TracerProvider, *Local) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	l, err := StartLocal(g, newMemory(g, 10*time.Millisecond, 0), LocalOptions{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return rec, tp, l
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// runSpans returns the ended spans of run runID, by name; it fails the
// test if two share a name.
func runSpans(t *testing.T, rec *tracetest.SpanRecorder, runID string) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if attrs(s)[attrRunID].AsString() != runID {
			continue
		}
		if _, dup := out[s.Name()]; dup {
			t.Errorf("run %s: two spans named %q", runID, s.Name())
		}
		out[s.Name()] = s
	}
	return out
}

// TestTraceDiamond runs diamond graphs on the in-memory broker with a
// recording tracer and checks every span of each run: names, kinds, the
// messaging attributes, and that each run is one trace whose spans are the
// children of the context their message carried, the join's a child of
// its first part's and linking every part's.
func TestTraceDiamond(t *testing.T) {
	rec, tp, l := traceLocal(t, diamondGraph("tracediamond"))
	ctx := t.Context()

	// One run with a caller's span: its publish continues the caller's trace.
	callerCtx, caller := tp.Tracer("test").Start(ctx, "caller")
	withCaller, err := l.Publish(callerCtx, "start", []byte(`{"value":1}`))
	caller.End()
	if err != nil {
		t.Fatal(err)
	}
	alone, err := l.Publish(ctx, "start", []byte(`{"value":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitResults(ctx, "result", 2); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	for _, run := range []string{withCaller, alone} {
		spans := runSpans(t, rec, run)
		var names []string
		for n := range spans {
			names = append(names, n)
		}
		slices.Sort(names)
		want := []string{"process aggregate.join", "process fan_out.split", "process process.a", "process process.b",
			"process process.c", "process terminate.result", "publish input"}
		if !slices.Equal(names, want) {
			t.Fatalf("run %s: spans %q, want %q", run, names, want)
		}
		pub := spans["publish input"]
		traceID := pub.SpanContext().TraceID()
		for name, s := range spans {
			if s.SpanContext().TraceID() != traceID {
				t.Errorf("run %s: span %q in trace %s, want the publish's %s", run, name, s.SpanContext().TraceID(), traceID)
			}
			wantKind := trace.SpanKindConsumer
			if name == "publish input" {
				wantKind = trace.SpanKindProducer
			}
			if s.SpanKind() != wantKind {
				t.Errorf("span %q: kind %v, want %v", name, s.SpanKind(), wantKind)
			}
			if s.Status().Code == codes.Error {
				t.Errorf("span %q: status %v", name, s.Status())
			}
			a := attrs(s)
			for k, v := range map[attribute.Key]string{
				"messaging.system": "rabbitmq", "dge.run_id": run,
				"dge.node": strings.TrimPrefix(strings.TrimPrefix(name, "process "), "publish "),
			} {
				if name == "publish input" && k == "dge.node" {
					v = "start.start"
				}
				if got := a[k].AsString(); got != v {
					t.Errorf("span %q: %s = %q, want %q", name, k, got, v)
				}
			}
			if a["dge.attempt"].AsInt64() != 1 {
				t.Errorf("span %q: dge.attempt = %v, want 1", name, a["dge.attempt"].String())
			}
			if name == "process aggregate.join" {
				if a["messaging.batch.message_count"].AsInt64() != 3 {
					t.Errorf("join span: messaging.batch.message_count = %v, want 3", a["messaging.batch.message_count"].String())
				}
				continue
			}
			for _, k := range []attribute.Key{"messaging.destination.name", "messaging.rabbitmq.destination.routing_key", "messaging.message.id"} {
				if a[k].AsString() == "" {
					t.Errorf("span %q: no %s", name, k)
				}
			}
			if _, ok := a["messaging.rabbitmq.message.delivery_tag"]; !ok && name != "publish input" {
				t.Errorf("span %q: no messaging.rabbitmq.message.delivery_tag", name)
			}
		}
		if got := spans["process process.a"].Attributes(); !slices.Contains(got, attribute.String("messaging.destination.name", "a_in")) {
			t.Errorf("span of process.a: attributes %v, want messaging.destination.name a_in", got)
		}

		parent := func(child, parent string) {
			t.Helper()
			if got, want := spans[child].Parent().SpanID(), spans[parent].SpanContext().SpanID(); got != want {
				t.Errorf("run %s: %q has parent %s, want %q (%s)", run, child, got, parent, want)
			}
		}
		parent("process fan_out.split", "publish input")
		for _, b := range []string{"a", "b", "c"} {
			parent("process process."+b, "process fan_out.split")
		}
		parent("process terminate.result", "process aggregate.join")
		join := spans["process aggregate.join"]
		var branches []trace.SpanID
		for _, b := range []string{"a", "b", "c"} {
			branches = append(branches, spans["process process."+b].SpanContext().SpanID())
		}
		if !slices.Contains(branches, join.Parent().SpanID()) {
			t.Errorf("run %s: the join's parent %s is none of its parts' spans %v", run, join.Parent().SpanID(), branches)
		}
		var linked []trace.SpanID
		for _, k := range join.Links() {
			linked = append(linked, k.SpanContext.SpanID())
		}
		slices.SortFunc(linked, func(a, b trace.SpanID) int { return strings.Compare(a.String(), b.String()) })
		slices.SortFunc(branches, func(a, b trace.SpanID) int { return strings.Compare(a.String(), b.String()) })
		if !slices.Equal(linked, branches) {
			t.Errorf("run %s: the join links %v, want its parts' spans %v", run, linked, branches)
		}
		if run == withCaller {
			if pub.Parent().SpanID() != caller.SpanContext().SpanID() || traceID != caller.SpanContext().TraceID() {
				t.Errorf("publish with a caller's span: parent %s in trace %s, want the caller %s", pub.Parent().SpanID(), traceID, caller.SpanContext().SpanID())
			}
		} else if pub.Parent().IsValid() {
			t.Errorf("publish without a caller's span: parent %s, want a root", pub.Parent().SpanID())
		}
	}
	if spans := runSpans(t, rec, withCaller); spans["publish input"].SpanContext().TraceID() == runSpans(t, rec, alone)["publish input"].SpanContext().TraceID() {
		t.Error("two runs share a trace")
	}
}

// TestTraceRetryAndPark checks that a retried message's attempts and a
// parked message stay in their run's trace: each attempt is a child of
// the publish, the failed one records its error, a retry and a park are
// events.
func TestTraceRetryAndPark(t *testing.T) {
	var calls atomic.Int32
	g := chainGraph("traceretry", func(_ context.Context, n num) (num, error) {
		switch {
		case n.Value < 0:
			return num{}, Permanent(errors.New("negative"))
		case n.Value == 1 && calls.Add(1) == 1:
			return num{}, errors.New("flaky")
		}
		return num{2 * n.Value}, nil
	})
	// on_failure runs in the parking span's context, so the spans it
	// starts join the run's trace.
	var inFailure atomic.Value // trace.SpanContext
	g.OnFailure = func(ctx context.Context, _ Failure) { inFailure.Store(trace.SpanContextFromContext(ctx)) }
	rec, _, l := traceLocal(t, g)
	ctx := t.Context()
	retried, err := l.Publish(ctx, "start", []byte(`{"value":1}`))
	if err != nil {
		t.Fatal(err)
	}
	parked, err := l.Publish(ctx, "start", []byte(`{"value":-1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitResults(ctx, "result", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitParked(ctx, "double", 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	var attempts []sdktrace.ReadOnlySpan
	var pub sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if attrs(s)[attrRunID].AsString() != retried {
			continue
		}
		switch s.Name() {
		case "process process.double":
			attempts = append(attempts, s)
		case "publish input":
			pub = s
		}
	}
	if pub == nil || len(attempts) != 2 {
		t.Fatalf("run %s: publish span %v and %d spans of process.double, want one and 2", retried, pub != nil, len(attempts))
	}
	slices.SortFunc(attempts, func(a, b sdktrace.ReadOnlySpan) int {
		return int(attrs(a)[attrAttempt].AsInt64() - attrs(b)[attrAttempt].AsInt64())
	})
	for i, s := range attempts {
		if s.Parent().SpanID() != pub.SpanContext().SpanID() {
			t.Errorf("attempt %d: parent %s, want the publish %s", i+1, s.Parent().SpanID(), pub.SpanContext().SpanID())
		}
		if got := attrs(s)[attrAttempt].AsInt64(); got != int64(i+1) {
			t.Errorf("attempt %d: dge.attempt = %d", i+1, got)
		}
	}
	if st := attempts[0].Status(); st.Code != codes.Error || st.Description != "flaky" || !hasEvent(attempts[0], "retry") || !hasEvent(attempts[0], "exception") {
		t.Errorf("failed attempt: status %v, events %v; want the error, an exception and a retry event", st, attempts[0].Events())
	}
	if st := attempts[1].Status(); st.Code == codes.Error {
		t.Errorf("second attempt: status %v, want no error", st)
	}

	spans := runSpans(t, rec, parked)
	s := spans["process process.double"]
	if s == nil || !hasEvent(s, "park") || s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "parked (permanent)") {
		t.Fatalf("parked run's span %v, want a park event and an error status", s)
	}
	if s.Parent().SpanID() != spans["publish input"].SpanContext().SpanID() {
		t.Errorf("parked run's span: parent %s, want its publish", s.Parent().SpanID())
	}
	if got, _ := inFailure.Load().(trace.SpanContext); !got.Equal(s.SpanContext()) {
		t.Errorf("on_failure's context carries span %v, want the parking span %v", got, s.SpanContext())
	}
	// The parked copy carries the span's context, so a redrive continues
	// the trace under it.
	dead, err := l.mem.Messages("input.dead")
	if err != nil || len(dead) != 1 {
		t.Fatalf("input.dead: %v, %v", dead, err)
	}
	if want := fmt.Sprintf("00-%s-%s-01", s.SpanContext().TraceID(), s.SpanContext().SpanID()); dead[0].TraceParent != want {
		t.Errorf("parked copy's traceparent %q, want %q", dead[0].TraceParent, want)
	}
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	return slices.ContainsFunc(s.Events(), func(e sdktrace.Event) bool { return e.Name == name })
}

// TestTraceOffByDefault checks that without a tracer provider messages
// carry no trace context.
func TestTraceOffByDefault(t *testing.T) {
	g := chainGraph("traceoff", double)
	l, err := StartLocal(g, newMemory(g, 0, 0), LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Publish(t.Context(), "start", []byte(`{"value":1}`)); err != nil {
		t.Fatal(err)
	}
	if l.e.tracer != nil || newTracer(nil) != nil {
		t.Error("tracing is on without a provider")
	}
	ready, err := l.mem.Messages("input")
	if err == nil && len(ready) == 1 && ready[0].TraceParent != "" {
		t.Errorf("untraced message carries traceparent %q", ready[0].TraceParent)
	}
}

// TestTraceConsoleAndLogs runs the local subcommand with
// OTEL_TRACES_EXPORTER=console and debug logs: every span is a JSON line on
// stderr, and every log line about a message carries its span's trace ID.
func TestTraceConsoleAndLogs(t *testing.T) {
	var out, errb syncBuffer
	env := map[string]string{"OTEL_TRACES_EXPORTER": "console", "DGE_LOG": "debug"}
	code := run(t.Context(), chainGraph("traceconsole", double), []string{"local"}, func(k string) string { return env[k] },
		strings.NewReader("{\"value\":1}\n{\"value\":2}\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	spans := map[string]string{} // span ID → trace ID
	traces := map[string]bool{}
	handled := 0
	sc := bufio.NewScanner(strings.NewReader(errb.String()))
	for sc.Scan() {
		var line struct {
			Name        string
			SpanContext struct{ TraceID, SpanID string }
			Msg         string `json:"msg"`
			TraceID     string `json:"trace_id"`
			SpanID      string `json:"span_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch {
		case line.Name != "":
			spans[line.SpanContext.SpanID] = line.SpanContext.TraceID
			traces[line.SpanContext.TraceID] = true
		case line.Msg == "handled":
			handled++
			if line.TraceID == "" || line.SpanID == "" {
				t.Errorf("log line without trace_id and span_id: %s", sc.Text())
			}
			defer func() {
				if spans[line.SpanID] != line.TraceID {
					t.Errorf("log line's span %s of trace %s is not among the spans printed %v", line.SpanID, line.TraceID, spans)
				}
			}()
		}
	}
	if len(spans) != 6 || len(traces) != 2 || handled != 2 {
		t.Errorf("%d spans in %d traces and %d handled lines, want 6 in 2 and 2; stderr:\n%s", len(spans), len(traces), handled, errb.String())
	}
}

// TestTraceExporterErrors checks that a bad OTEL_TRACES_EXPORTER stops the
// program with a clear error.
func TestTraceExporterErrors(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "jaeger"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		var errb syncBuffer
		code := run(t.Context(), chainGraph("traceerr", double), []string{"topology"}, func(k string) string { return env[k] },
			strings.NewReader(""), &syncBuffer{}, &errb)
		if code != 2 || !strings.Contains(errb.String(), "OTEL_") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and an error naming the variable", env, code, errb.String())
		}
	}
}

// TestTracePassedThroughUntracedNode checks that a node that does not trace
// passes its input's trace context on to its output, so a run stays one
// trace across it.
func TestTracePassedThroughUntracedNode(t *testing.T) {
	g := chainGraph("tracepass", double)
	mem := newMemory(g, 0, 0)
	defer mem.Close()
	e := &engine{g: &g, tr: mem, log: slog.New(slog.DiscardHandler), metrics: newMetrics(g.Name), shutdownTimeout: time.Second, connName: "tracepass"}
	n, _ := g.Node("double")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.run(ctx, []*nodeRun{e.newRun(n, 0, 0)}) }()
	defer func() { cancel(); <-done }()

	conn, err := mem.Dial(ctx, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c, err := ch.Publish(ctx, g.WorkExchange, "input", Message{Body: []byte(`{"value":2}`), MessageID: "m1", RunID: "r1",
		Source: "start.start", Attempt: 1, TraceParent: tp, TraceState: "k=v"})
	if err == nil {
		err = c.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	for {
		ms, err := mem.Messages("result")
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 1 {
			if ms[0].TraceParent != tp || ms[0].TraceState != "k=v" {
				t.Errorf("output's trace context %q %q, want the input's %q %q", ms[0].TraceParent, ms[0].TraceState, tp, "k=v")
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestTraceSplitGather checks that a split run stays one trace: every
// item's spans are in the run's trace, and the gather's span, a child of
// the first item's context, counts the items and links at most
// maxGatherLinks of them, in both forms; the output carries its context.
func TestTraceSplitGather(t *testing.T) {
	const items = 3 * maxGatherLinks / 2
	for _, fold := range []bool{false, true} {
		t.Run(fmt.Sprintf("fold=%v", fold), func(t *testing.T) {
			var gather Node
			if fold {
				gather = Fold[num, num]("sum", testEdge("sum"), "numbers", time.Minute, nil, sumFold, "result")
			} else {
				gather = Gather[num, num]("sum", testEdge("sum"), "numbers", time.Minute, digits, "result")
			}
			g := testGraph(fmt.Sprint("tracesplit", fold),
				Start[num]("start", "numbers"),
				Split[num, num]("numbers", testEdge("numbers"), func(_ context.Context, n num) ([]num, error) {
					return make([]num, n.Value), nil
				}, "double"),
				Process[num, num]("double", testEdge("double"), double, "sum"),
				gather,
				Terminate[num]("result", testEdge("result")))
			rec, _, l := traceLocal(t, g)
			run, err := l.Publish(t.Context(), "start", fmt.Appendf(nil, `{"value":%d}`, items))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.WaitResults(t.Context(), "result", 1); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			byName := map[string][]sdktrace.ReadOnlySpan{}
			var traceID trace.TraceID
			for _, s := range rec.Ended() {
				if attrs(s)[attrRunID].AsString() != run {
					continue
				}
				byName[s.Name()] = append(byName[s.Name()], s)
				if s.Name() == "publish numbers" {
					traceID = s.SpanContext().TraceID()
				}
			}
			// The gather's spans: one per item delivery, and its completion's.
			for name, want := range map[string]int{"publish numbers": 1, "process split.numbers": 1,
				"process process.double": items, "process gather.sum": items + 1, "process terminate.result": 1} {
				if got := len(byName[name]); got != want {
					t.Errorf("%d spans %q, want %d", got, name, want)
				}
			}
			for name, ss := range byName {
				for _, s := range ss {
					if s.SpanContext().TraceID() != traceID {
						t.Errorf("span %q in trace %s, want the run's %s", name, s.SpanContext().TraceID(), traceID)
					}
				}
			}
			var gs sdktrace.ReadOnlySpan
			for _, s := range byName["process gather.sum"] {
				if _, ok := attrs(s)[attrSplitCount]; ok {
					gs = s
				}
			}
			if gs == nil || len(byName["process terminate.result"]) != 1 {
				t.Fatal("no gather span with dge.split.count, or no result span")
			}
			if n := attrs(gs)[attrSplitCount].AsInt64(); n != items {
				t.Errorf("gather span: dge.split.count %d, want %d", n, items)
			}
			if n := len(gs.Links()); n == 0 || n > maxGatherLinks {
				t.Errorf("gather span links %d items, want 1 to %d", n, maxGatherLinks)
			}
			if p := byName["process terminate.result"][0].Parent(); p.SpanID() != gs.SpanContext().SpanID() {
				t.Errorf("the result's span is a child of %s, want the gather's %s", p.SpanID(), gs.SpanContext().SpanID())
			}
		})
	}
}
