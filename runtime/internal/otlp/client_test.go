package otlp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestUpload exports spans to a receiver under a base path and checks the
// request: POST to <base>/v1/traces, the spans as sent, the headers of the
// variable, Content-Type and a User-Agent naming dge.
func TestUpload(t *testing.T) {
	rc, srv := newReceiver(t, nil)
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL+"/base/")
	t.Setenv(prefix+"HEADERS", "api-key=s%20ecret,x-tenant=a")
	spans := testSpans("process double", "process square")
	if err := newClient(t).UploadTraces(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.method != http.MethodPost || r.path != "/base/v1/traces" {
		t.Errorf("%s %s, want POST /base/v1/traces", r.method, r.path)
	}
	if !proto.Equal(r.export, &coltracepb.ExportTraceServiceRequest{ResourceSpans: spans}) {
		t.Errorf("the receiver decoded %v, want %v", r.export, spans)
	}
	for k, want := range map[string]string{"Api-Key": "s ecret", "X-Tenant": "a", "Content-Type": "application/x-protobuf", "Content-Encoding": ""} {
		if v := r.header.Get(k); v != want {
			t.Errorf("header %s: %q, want %q", k, v, want)
		}
	}
	if ua := r.header.Get("User-Agent"); !strings.HasPrefix(ua, "dge/") {
		t.Errorf("User-Agent %q, want one naming dge", ua)
	}
}

// TestUploadGzip checks that COMPRESSION=gzip compresses the body and says
// so in Content-Encoding (the receiver gunzips by it).
func TestUploadGzip(t *testing.T) {
	rc, srv := newReceiver(t, nil)
	cleanEnv(t)
	t.Setenv(prefix+"TRACES_ENDPOINT", srv.URL+"/v1/traces")
	t.Setenv(prefix+"COMPRESSION", "gzip")
	spans := testSpans("zipped")
	if err := newClient(t).UploadTraces(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 || got[0].header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("requests %v, want 1 with Content-Encoding gzip", got)
	}
	if !proto.Equal(got[0].export, &coltracepb.ExportTraceServiceRequest{ResourceSpans: spans}) {
		t.Errorf("the receiver decoded %v, want %v", got[0].export, spans)
	}
}

// TestUploadTimeout checks that TIMEOUT bounds an export whose receiver
// never answers, and that the error says so.
func TestUploadTimeout(t *testing.T) {
	_, srv := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	t.Setenv(prefix+"TRACES_TIMEOUT", "300")
	start := time.Now()
	err := newClient(t).UploadTraces(t.Context(), testSpans("slow"))
	d := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "timeout (300ms, "+prefix+"TRACES_TIMEOUT)") {
		t.Errorf("error %v, want one naming the timeout", err)
	}
	if d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("the export took %s, want about 300ms", d)
	}
}

// TestNoRetryOn400 checks that a status other than 429, 502, 503 and 504
// fails the export at once, with the status and the start of the body.
func TestNoRetryOn400(t *testing.T) {
	long := "invalid request: " + strings.Repeat("x", 1000)
	rc, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, long, http.StatusBadRequest)
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	err := newClient(t).UploadTraces(t.Context(), testSpans("rejected"))
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: invalid request: xxx") {
		t.Fatalf("error %v, want the status and the body's start", err)
	}
	if len(err.Error()) > len(srv.URL)+300 {
		t.Errorf("the error holds %d bytes, want the body cut to about 200: %v", len(err.Error()), err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want 1 (no retry)", n)
	}
}

// handled captures what otel.Handle reports during a test.
func handled(t *testing.T) func() []error {
	var mu sync.Mutex
	var errs []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// TestPartialSuccess checks that a partial success in a 200 response is
// reported through otel.Handle, and the export succeeds; and that a
// response that is no protobuf is reported too.
func TestPartialSuccess(t *testing.T) {
	_, srv := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		if n == 2 {
			_, _ = w.Write([]byte{0x0a, 0x05, 0x01}) // truncated
			return
		}
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: 2, ErrorMessage: "spans too old"}})
		_, _ = w.Write(b)
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	reported := handled(t)
	c := newClient(t)
	if err := c.UploadTraces(t.Context(), testSpans("a", "b")); err != nil {
		t.Fatalf("partial success: error %v, want none", err)
	}
	errs := reported()
	var ps *PartialSuccess
	if len(errs) != 1 || !errors.As(errs[0], &ps) || ps.Rejected != 2 || ps.Message != "spans too old" {
		t.Fatalf("otel.Handle got %v, want the partial success (2 spans rejected: spans too old)", errs)
	}
	if err := c.UploadTraces(t.Context(), testSpans("c")); err != nil {
		t.Fatalf("malformed response: error %v, want none", err)
	}
	if errs = reported(); len(errs) != 2 || !errors.Is(errs[1], errMalformed) {
		t.Errorf("otel.Handle got %v, want the malformed response reported", errs)
	}
}

// TestStop checks that Stop cancels an export under way and fails those
// that follow.
func TestStop(t *testing.T) {
	started := make(chan struct{})
	_, srv := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	c := newClient(t)
	done := make(chan error)
	go func() { done <- c.UploadTraces(context.Background(), testSpans("stopped")) }()
	<-started
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, errStopped) {
			t.Errorf("the export under way: error %v, want errStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not end the export under way")
	}
	if err := c.UploadTraces(t.Context(), testSpans("after")); !errors.Is(err, errStopped) {
		t.Errorf("an export after Stop: error %v, want errStopped", err)
	}
}

// TestExporter runs the client under the SDK, as a program does: a span
// ended on a provider with otlptrace.New's exporter reaches the receiver
// with its resource.
func TestExporter(t *testing.T) {
	rc, srv := newReceiver(t, nil)
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	x, err := otlptrace.New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(resource.Default().Attributes()...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(x), sdktrace.WithResource(res))
	_, span := tp.Tracer("test").Start(t.Context(), "publish input")
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	rs := got[0].export.ResourceSpans
	if len(rs) != 1 || len(rs[0].ScopeSpans) != 1 || len(rs[0].ScopeSpans[0].Spans) != 1 || rs[0].ScopeSpans[0].Spans[0].Name != "publish input" {
		t.Fatalf("the receiver got %v, want the span publish input", rs)
	}
	if rs[0].ScopeSpans[0].Spans[0].TraceId == nil || len(rs[0].Resource.Attributes) == 0 {
		t.Errorf("span %v of resource %v: want a trace ID and the resource's attributes", rs[0].ScopeSpans[0].Spans[0], rs[0].Resource)
	}
	if err := c.UploadTraces(t.Context(), testSpans("after shutdown")); !errors.Is(err, errStopped) {
		t.Errorf("the SDK's shutdown did not stop the client: %v", err)
	}
}
