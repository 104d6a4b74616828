package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/dgehq/dge/runtime/internal/otlp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// traceFlushTimeout bounds how long a program waits at exit for its last
// spans to be exported.
const traceFlushTimeout = 10 * time.Second

// startTracing sets up what the standard OpenTelemetry variables ask for:
// OTEL_TRACES_EXPORTER (a comma-separated list of otlp, console and none;
// unset or none: tracing off), OTEL_SDK_DISABLED, OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES (the service name defaults to the program's),
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, and the OTLP exporter's
// OTEL_EXPORTER_OTLP_* (HTTP with protobuf; the endpoint defaults to
// http://localhost:4318; a grpc or http/json protocol is refused). The SDK
// reads the sampler's and the resource's variables from the process
// environment itself, and so does the OTLP exporter's client, package
// runtime/internal/otlp: dge's own, which exports like the SDK's
// otlptracehttp without importing gRPC, 6.9 MB of the arith example (see
// that package). The console exporter writes one JSON span per line to
// stderr, beside the logs: stdout carries run IDs and results. When
// tracing is on, the provider also becomes the global one (with the W3C
// propagator), so that spans a handler starts with otel.Tracer join the
// message's trace.
//
// It returns the program's tracer provider (nil when tracing is off) and
// stop, which flushes the last spans, restores the globals and must be
// called before the program exits. prog names the program, graph its
// graph (for the lines it logs to stderr).
func startTracing(ctx context.Context, prog, graph string, getenv func(string) string, stderr io.Writer) (tp trace.TracerProvider, stop func(), err error) {
	none := func() {}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, none, nil
	}
	var exporters []sdktrace.SpanExporter
	for _, name := range strings.Split(getenv("OTEL_TRACES_EXPORTER"), ",") {
		switch name = strings.ToLower(strings.TrimSpace(name)); name {
		case "", "none":
		case "console":
			x, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
			if err != nil {
				return nil, none, fmt.Errorf("OTEL_TRACES_EXPORTER=console: %w", err)
			}
			exporters = append(exporters, x)
		case "otlp":
			for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
				if p := getenv(k); p != "" && p != "http/protobuf" {
					return nil, none, fmt.Errorf("%s=%q: this program exports OTLP over HTTP only: set it to http/protobuf or unset it", k, p)
				}
			}
			c, err := otlp.NewClient()
			if err != nil {
				return nil, none, fmt.Errorf("OTEL_TRACES_EXPORTER=otlp: %w", err)
			}
			x, err := otlptrace.New(ctx, c)
			if err != nil {
				return nil, none, fmt.Errorf("OTEL_TRACES_EXPORTER=otlp: %w", err)
			}
			exporters = append(exporters, x)
		default:
			return nil, none, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: want otlp, console or none (or a comma-separated list of them)", getenv("OTEL_TRACES_EXPORTER"))
		}
	}
	if len(exporters) == 0 {
		return nil, none, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(prog)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, none, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	errLog := slog.New(slog.NewJSONHandler(stderr, nil)).With("graph", graph)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		errLog.Warn("tracing", "error", err.Error())
	}))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)} // the sampler comes from OTEL_TRACES_SAMPLER
	for _, x := range exporters {
		opts = append(opts, sdktrace.WithBatcher(x))
	}
	sdk := sdktrace.NewTracerProvider(opts...)

	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdk)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return sdk, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
		defer cancel()
		if err := sdk.Shutdown(ctx); err != nil {
			errLog.Warn("tracing: the last spans were not all exported", "error", err.Error())
		}
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	}, nil
}
