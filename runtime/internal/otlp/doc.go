// Package otlp is the OTLP/HTTP trace client of a generated program: an
// otlptrace.Client that POSTs spans as protobuf to a collector's traces
// endpoint, configured from the same OTEL_EXPORTER_OTLP_* variables as the
// OpenTelemetry SDK's otlptracehttp exporter, which it replaces.
//
// It exists for the size of a generated program. otlptracehttp's
// configuration package and the generated collector service
// (go.opentelemetry.io/proto/otlp/collector/trace/v1) import gRPC and
// grpc-gateway, and with them golang.org/x/net/trace and html/template:
// 6.9 MB of the arith example's 24.2 MB, in a program that never speaks
// gRPC. This package imports neither: it encodes the
// ExportTraceServiceRequest by hand with protowire (field 1, one
// ResourceSpans message each, marshalled with proto.Marshal) and decodes
// the response's partial_success the same way. The runtime/cli test
// TestNoGRPC keeps it so.
//
// NewClient reads the process environment (as the SDK does), the
// signal-specific variable winning over the generic one:
//
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, used as is, or
//     OTEL_EXPORTER_OTLP_ENDPOINT, a base URL to which /v1/traces is
//     appended; default http://localhost:4318/v1/traces. http or https.
//   - OTEL_EXPORTER_OTLP_[TRACES_]HEADERS: key=value pairs separated by
//     commas, the values percent-decoded.
//   - OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT: the time one export may take, all
//     its attempts included, in milliseconds; default 10000, 0 for none.
//   - OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION: gzip or none (the default).
//   - OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE (the CA's PEM file),
//     OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE and
//     OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY (mutual TLS).
//   - HTTPS_PROXY, HTTP_PROXY and NO_PROXY (http.ProxyFromEnvironment).
//
// A setting that is wrong (a URL that does not parse, a header without =,
// a file that cannot be read) is an error from NewClient that names the
// variable and says what to do, rather than the SDK's warning and its
// default: a program told to export its traces should not silently send
// them elsewhere.
//
// Like otlptracehttp, an export is retried on 429, 502, 503 and 504 and on
// transport errors (not on a server certificate the client rejects, nor on
// a TLS alert, such as the server's refusal of the client's certificate), with exponential backoff and jitter (5 s at first, at
// most 30 s apart, for at most a minute), waiting at least as long as a
// Retry-After header asks, and never past the export's timeout or
// context: when the next attempt would come too late it gives up at once.
// Any other status fails the export with an error holding the status and
// the start of the response's body. A receiver's partial success (spans
// rejected) is reported through otel.Handle; the export itself succeeded.
//
// Files: config.go (the environment), client.go (Client: Start, Stop,
// UploadTraces), post.go (one attempt: the request and its response),
// retry.go (the attempts of one export), wire.go (the request's and the
// response's protobuf encoding).
package otlp
