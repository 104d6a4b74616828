package e2e

import (
	"bufio"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	diamondDir = "testdata/e2e/diamond"
	diamondPkg = "./testdata/e2e/diamond/cmd/diamond"
)

// span is a span as the console exporter prints it (one JSON object a
// line), with the process that printed it.
type span struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
	SpanKind    int // 4: producer, 5: consumer
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Links []struct {
		SpanContext struct{ TraceID, SpanID string }
	}
	Status struct{ Code string }

	proc string
}

func (s span) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			switch v := a.Value.Value.(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return ""
}

// logLine is a JSON log line that carries a trace ID.
type logLine struct {
	Msg     string `json:"msg"`
	RunID   string `json:"run_id"`
	TraceID string `json:"trace_id"`
}

// readTrace parses a process's stderr: the spans the console exporter
// printed and the log lines.
func readTrace(proc, stderr string) (spans []span, logs []logLine) {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s span
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.SpanContext.SpanID != "" {
			s.proc = proc
			spans = append(spans, s)
			continue
		}
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg != "" {
			logs = append(logs, l)
		}
	}
	return spans, logs
}

// TestTraceAcrossProcesses runs the diamond graph (fan_out → three
// processes → aggregate) with every node its own process and
// OTEL_TRACES_EXPORTER=console, reads every span the processes print, and
// checks that each run is one trace from its publish through every node:
// each node's span a child of the one that published its message (the
// retried attempts too), the join's a child of one of its parts' and
// linking all three, and the trace ID in the log lines about the run.
func TestTraceAcrossProcesses(t *testing.T) {
	e := newEnv(t, diamondDir, diamondPkg)
	e.extra = []string{"OTEL_TRACES_EXPORTER=console", "OTEL_SERVICE_NAME=diamond-e2e"}
	nodes := []string{"split", "double", "increment", "square", "join"}
	procs := map[string]*proc{}
	for _, n := range nodes {
		procs[n] = e.start(n, n)
	}
	result := e.consume("result")

	// 1,000,000 makes Double fail twice before it succeeds: a retried run.
	const retried = 1_000_000
	values := []int64{1, 2, 3, retried}
	cmd := e.command("publish", "publish", "start")
	cmd.Stdin = strings.NewReader(inputs(values))
	var pubErr syncBuffer
	cmd.Stderr = &pubErr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, pubErr.String())
	}
	runIDs := strings.Fields(string(out))
	if len(runIDs) != len(values) {
		t.Fatalf("publish printed %q, want %d run IDs", out, len(values))
	}
	for range values {
		result.next(t)
	}
	for _, n := range nodes {
		if code := procs[n].term(); code != 0 {
			t.Errorf("%s exited %d", n, code)
		}
	}
	if code := result.p.term(); code != 0 {
		t.Errorf("consume exited %d", code)
	}

	var spans []span
	var logs []logLine
	for name, p := range map[string]*syncBuffer{"publish": &pubErr, "consume": result.p.stderr,
		"split": procs["split"].stderr, "double": procs["double"].stderr, "increment": procs["increment"].stderr,
		"square": procs["square"].stderr, "join": procs["join"].stderr} {
		s, l := readTrace(name, p.String())
		spans, logs = append(spans, s...), append(logs, l...)
	}

	t.Logf("%d spans and %d log lines read from 7 processes", len(spans), len(logs))
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID] = s
	}
	// wantProc is the process that must have printed each span.
	wantProc := map[string]string{
		"publish input": "publish", "process fan_out.split": "split", "process process.double": "double",
		"process process.increment": "increment", "process process.square": "square",
		"process aggregate.join": "join", "process terminate.result": "consume",
	}
	for i, run := range runIDs {
		var mine []span
		for _, s := range spans {
			if s.attr("dge.run_id") == run {
				mine = append(mine, s)
			}
		}
		named := map[string][]span{}
		for _, s := range mine {
			named[s.Name] = append(named[s.Name], s)
			if s.proc != wantProc[s.Name] {
				t.Errorf("run %s: span %q printed by %s, want %s", run, s.Name, s.proc, wantProc[s.Name])
			}
			if s.attr("messaging.system") != "rabbitmq" || s.attr("dge.node") == "" {
				t.Errorf("run %s: span %q lacks the messaging attributes: %+v", run, s.Name, s.Attributes)
			}
		}
		attempts := 1
		if values[i] == retried {
			attempts = 3
		}
		for name := range wantProc {
			want := 1
			if name == "process process.double" {
				want = attempts
			}
			if len(named[name]) != want {
				t.Fatalf("run %s: %d spans %q, want %d (spans of the run: %d)", run, len(named[name]), name, want, len(mine))
			}
		}
		pub := named["publish input"][0]
		if pub.SpanKind != 4 || pub.Parent.SpanID != "0000000000000000" {
			t.Errorf("run %s: publish span kind %d, parent %s; want a PRODUCER root", run, pub.SpanKind, pub.Parent.SpanID)
		}
		for _, s := range mine {
			if s.SpanContext.TraceID != pub.SpanContext.TraceID {
				t.Errorf("run %s: span %q (%s) in trace %s, want the publish's %s", run, s.Name, s.proc, s.SpanContext.TraceID, pub.SpanContext.TraceID)
			}
			if s.Name != "publish input" && s.SpanKind != 5 {
				t.Errorf("run %s: span %q kind %d, want CONSUMER", run, s.Name, s.SpanKind)
			}
		}
		split := named["process fan_out.split"][0]
		if split.Parent.SpanID != pub.SpanContext.SpanID {
			t.Errorf("run %s: split's parent %s, want the publish %s", run, split.Parent.SpanID, pub.SpanContext.SpanID)
		}
		var parts []string // the branch spans whose output reached the join
		for _, b := range []string{"process process.double", "process process.increment", "process process.square"} {
			for _, s := range named[b] {
				if s.Parent.SpanID != split.SpanContext.SpanID {
					t.Errorf("run %s: %q attempt %s: parent %s, want split's %s", run, b, s.attr("dge.attempt"), s.Parent.SpanID, split.SpanContext.SpanID)
				}
				if s.Status.Code != "Error" {
					parts = append(parts, s.SpanContext.SpanID)
				}
			}
		}
		if len(parts) != 3 {
			t.Errorf("run %s: %d branch spans without an error, want 3", run, len(parts))
		}
		if values[i] == retried {
			failed := 0
			for _, s := range named["process process.double"] {
				if s.Status.Code == "Error" {
					failed++
				}
			}
			if failed != 2 {
				t.Errorf("retried run: %d failed attempts of double, want 2", failed)
			}
		}
		join := named["process aggregate.join"][0]
		if !slices.Contains(parts, join.Parent.SpanID) {
			t.Errorf("run %s: join's parent %s (%s) is none of its parts %v", run, join.Parent.SpanID, byID[join.Parent.SpanID].Name, parts)
		}
		var links []string
		for _, l := range join.Links {
			links = append(links, l.SpanContext.SpanID)
		}
		slices.Sort(links)
		slices.Sort(parts)
		if !slices.Equal(links, parts) {
			t.Errorf("run %s: join links %v, want its parts %v", run, links, parts)
		}
		if res := named["process terminate.result"][0]; res.Parent.SpanID != join.SpanContext.SpanID {
			t.Errorf("run %s: result's parent %s, want the join %s", run, res.Parent.SpanID, join.SpanContext.SpanID)
		}
		if values[i] == retried {
			// Double's retries are logged at warn level, with the run's trace.
			n := 0
			for _, l := range logs {
				if l.RunID == run && l.Msg == "handler failed; retrying" {
					n++
					if l.TraceID != pub.SpanContext.TraceID {
						t.Errorf("retry log line of run %s: trace_id %q, want %s", run, l.TraceID, pub.SpanContext.TraceID)
					}
				}
			}
			if n != 2 {
				t.Errorf("run %s: %d retry log lines, want 2", run, n)
			}
		}
	}
}
