package main

import (
	"strings"
	"testing"
)

// TestTree prints a trace of three spans, one linking the others, as a
// tree, skipping the log lines around them.
func TestTree(t *testing.T) {
	in := `{"time":"2026-12-01T22:00:00Z","level":"INFO","msg":"consuming"}
{"Name":"publish input","SpanContext":{"TraceID":"t1","SpanID":"a"},"Parent":{"SpanID":"0000000000000000"},"SpanKind":4,"StartTime":"2026-12-01T22:00:00Z","EndTime":"2026-12-01T22:00:00.002Z","Attributes":[{"Key":"dge.run_id","Value":{"Type":"STRING","Value":"r1"}}]}
{"Name":"process process.b","SpanContext":{"TraceID":"t1","SpanID":"c"},"Parent":{"SpanID":"a"},"SpanKind":5,"StartTime":"2026-12-01T22:00:00.005Z","EndTime":"2026-12-01T22:00:00.006Z","Attributes":[{"Key":"dge.attempt","Value":{"Type":"INT64","Value":2}}],"Status":{"Code":"Error","Description":"boom"},"Events":[{"Name":"exception"},{"Name":"retry"}]}
{"Name":"process process.a","SpanContext":{"TraceID":"t1","SpanID":"b"},"Parent":{"SpanID":"a"},"SpanKind":5,"StartTime":"2026-12-01T22:00:00.003Z","EndTime":"2026-12-01T22:00:00.004Z","Links":[{"SpanContext":{"SpanID":"c"}}]}
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := `trace t1 (run r1)
publish input                            producer +    0.0ms     2.0ms
  process process.a                      consumer +    3.0ms     1.0ms  links process process.b
  process process.b                      consumer +    5.0ms     1.0ms  attempt 2; error: boom; event retry
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if err := run(strings.NewReader(`{"level":"INFO"}`), &out); err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER=console") {
		t.Errorf("no spans: error %v, want one naming OTEL_TRACES_EXPORTER=console", err)
	}
}
