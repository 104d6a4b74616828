package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracingOTLP runs startTracing with OTEL_TRACES_EXPORTER=otlp and the
// endpoint in the process environment, as a program does: a span of the
// program's provider reaches the receiver when stop flushes, with the
// program's service name.
func TestTracingOTLP(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("the request is no ExportTraceServiceRequest: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, &req)
		paths = append(paths, r.URL.Path)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	env := map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "always_on"}
	var stderr strings.Builder
	tp, stop, err := startTracing(t.Context(), "tracedprog", "g", func(k string) string { return env[k] }, &stderr)
	if err != nil || tp == nil {
		t.Fatalf("startTracing: %v, %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "process double")
	span.End()
	stop()

	mu.Lock()
	defer mu.Unlock()
	var names []string
	service := ""
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "process double" || service != "tracedprog" || paths[0] != "/v1/traces" {
		t.Errorf("the receiver got spans %q of service %q at %q, want [process double] of tracedprog at /v1/traces; stderr:\n%s", names, service, paths, stderr.String())
	}
}

// TestTracingOTLPConfigError checks that an OTLP setting the client cannot
// use stops startTracing with an error naming both variables.
func TestTracingOTLPConfigError(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")
	env := map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}
	_, _, err := startTracing(t.Context(), "prog", "g", func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER=otlp: OTEL_EXPORTER_OTLP_ENDPOINT=") {
		t.Errorf("error %v, want one naming OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_ENDPOINT", err)
	}
}
