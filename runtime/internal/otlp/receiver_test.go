package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// envVars are the variables the client reads; cleanEnv blanks them all so
// that a test does not depend on the environment it runs in.
var envVars = []string{"ENDPOINT", "HEADERS", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"}

// cleanEnv blanks every variable the client reads (blank is unset to it),
// for the duration of t.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, name := range envVars {
		t.Setenv(prefix+name, "")
		t.Setenv(prefix+"TRACES_"+name, "")
	}
}

// request is one export a receiver got, decoded.
type request struct {
	method, path string
	header       http.Header
	export       *coltracepb.ExportTraceServiceRequest
}

// receiver is an OTLP/HTTP receiver for tests: it decodes every request
// (gunzipping it when its Content-Encoding says gzip) into the collector's
// ExportTraceServiceRequest, records it, and answers with respond (200 and
// no body when respond is nil). n counts the requests from 1.
type receiver struct {
	t       *testing.T
	respond func(n int, w http.ResponseWriter, r *http.Request)
	mu      sync.Mutex
	got     []request
}

// ServeHTTP decodes and records a request and answers it.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: reading the request: %v", err)
	}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			rc.t.Errorf("receiver: Content-Encoding gzip, but: %v", err)
		} else if body, err = io.ReadAll(zr); err != nil {
			rc.t.Errorf("receiver: gunzipping the request: %v", err)
		}
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &export); err != nil {
		rc.t.Errorf("receiver: the request is no ExportTraceServiceRequest: %v", err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, request{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), export: &export})
	n := len(rc.got)
	rc.mu.Unlock()
	if rc.respond != nil {
		rc.respond(n, w, r)
	}
}

// requests returns what the receiver got so far.
func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// newReceiver starts a receiver over plain HTTP, closed at the end of t.
func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, respond: respond}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

// newClient returns a client configured by the environment, failing t on
// an error, and stops it at the end of t.
func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

// testSpans returns one resource (service "svc") with one span per name.
func testSpans(names ...string) []*tracepb.ResourceSpans {
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "test"}}
	for i, name := range names {
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId:           bytes.Repeat([]byte{1}, 16),
			SpanId:            []byte{2, 0, 0, 0, 0, 0, 0, byte(i)},
			Name:              name,
			Kind:              tracepb.Span_SPAN_KIND_CONSUMER,
			StartTimeUnixNano: 1000,
			EndTimeUnixNano:   2000 + uint64(i),
			Attributes: []*commonpb.KeyValue{{Key: "dge.node", Value: &commonpb.AnyValue{
				Value: &commonpb.AnyValue_StringValue{StringValue: name}}}},
		})
	}
	return []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{
			Value: &commonpb.AnyValue_StringValue{StringValue: "svc"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}
}
