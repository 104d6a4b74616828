package runtime

import (
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The attributes dge adds to the messaging conventions' on its spans.
const (
	attrRunID   = attribute.Key("dge.run_id")  // the run the message belongs to
	attrNode    = attribute.Key("dge.node")    // the address of the node handling or publishing it
	attrAttempt = attribute.Key("dge.attempt") // the handler's attempt

	// On a gather's span: the items of the split it gathers.
	attrSplitCount = attribute.Key("dge.split.count")

	// On a route's span: the label its handler returned, and the queue of
	// the path it took ("" when no path takes the label: parked).
	attrRouteLabel = attribute.Key("dge.route.label")
	attrRouteTo    = attribute.Key("dge.route.to")

	// On the events "park" and "retry":
	attrReason    = attribute.Key("dge.reason")     // why the message was parked (as in x-dge-reason)
	attrError     = attribute.Key("dge.error")      // the error's text
	attrDeadQueue = attribute.Key("dge.dead_queue") // the queue the parked copy went to
	attrRetryIn   = attribute.Key("dge.retry_in")   // the retry delay
)

// tracerName names the runtime's tracer (its instrumentation scope).
const tracerName = "github.com/dgehq/dge/runtime"

// tracer traces messages, following the OpenTelemetry messaging
// conventions: a run is one trace, from the PRODUCER span of its publish
// through a CONSUMER span per node and message ("process <node>"), each a
// child of the context its message carries. A nil *tracer is tracing off:
// the runtime checks for nil before doing anything, so an untraced message
// costs nothing.
type tracer struct {
	t trace.Tracer
}

// newTracer returns the tracer of tp, or nil (tracing off) when tp is nil
// or a no-op provider.
func newTracer(tp trace.TracerProvider) *tracer {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	return &tracer{t: tp.Tracer(tracerName)}
}

// traceContext is the W3C trace context propagator.
var traceContext propagation.TraceContext

// messageCarrier reads and writes a message's trace context fields as the
// propagator's headers.
type messageCarrier struct{ m *Message }

func (c messageCarrier) Get(key string) string {
	switch key {
	case HeaderTraceParent:
		return c.m.TraceParent
	case HeaderTraceState:
		return c.m.TraceState
	}
	return ""
}

func (c messageCarrier) Set(key, value string) {
	switch key {
	case HeaderTraceParent:
		c.m.TraceParent = value
	case HeaderTraceState:
		c.m.TraceState = value
	}
}

func (c messageCarrier) Keys() []string { return []string{HeaderTraceParent, HeaderTraceState} }

// remote returns ctx with the span context m carries as its remote parent
// (ctx unchanged when m carries none or an invalid one).
func remote(ctx context.Context, m *Message) context.Context {
	if m.TraceParent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, messageCarrier{m})
}

// continueTrace gives m, a message published for a message from, the
// trace context of span, the publishing node's; when the node does not
// trace (span nil), the context from carries, so that a run stays one
// trace across the node.
func continueTrace(span trace.Span, from Message, m *Message) {
	if span != nil {
		carry(span, m)
		return
	}
	m.TraceParent, m.TraceState = from.TraceParent, from.TraceState
}

// carry sets m's trace context to span's: the W3C traceparent (version 00,
// the sampled flag only) and tracestate, formatted as
// propagation.TraceContext does without the context it needs.
func carry(span trace.Span, m *Message) {
	sc := span.SpanContext()
	m.TraceParent, m.TraceState = "", ""
	if !sc.IsValid() {
		return
	}
	var b [55]byte // 00-<trace ID>-<span ID>-<flags>
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:3], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	m.TraceParent = string(b[:])
	m.TraceState = sc.TraceState().String()
}

// startProcess starts the CONSUMER span of node r handling delivery d, a
// child of the context d carries.
func (t *tracer) startProcess(ctx context.Context, r *nodeRun, d *Delivery) trace.Span {
	return t.startConsumer(ctx, r.spanName, r.addr, r.n.in.Queue, d)
}

// The attributes every span of the runtime has, whatever the node.
var (
	operationProcess = []attribute.KeyValue{semconv.MessagingSystemRabbitMQ, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process")}
	operationPublish = []attribute.KeyValue{semconv.MessagingSystemRabbitMQ, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("publish")}
)

// startResult starts the CONSUMER span of terminate node n taking in
// result d (consume, or Local's collector).
func (t *tracer) startResult(ctx context.Context, n Node, d *Delivery) trace.Span {
	return t.startConsumer(ctx, "process "+n.Addr(), n.Addr(), n.in.Queue, d)
}

// startConsumer starts span name of node addr handling delivery d from
// queue q (its attempt: the delivery's on q).
func (t *tracer) startConsumer(ctx context.Context, name, addr, q string, d *Delivery) trace.Span {
	_, span := t.t.Start(remote(ctx, &d.Message), name,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(operationProcess...),
		trace.WithAttributes(
			semconv.MessagingDestinationName(q),
			semconv.MessagingRabbitMQDestinationRoutingKey(q),
			semconv.MessagingMessageID(d.MessageID),
			semconv.MessagingRabbitMQMessageDeliveryTag(int(d.Tag)),
			attrRunID.String(d.RunID),
			attrNode.String(addr),
			attrAttempt.Int(d.attempt(q)),
		))
	return span
}

// startJoin starts the CONSUMER span of aggregate r joining the parts of
// one run: a child of its first part's context (the part that arrived
// first), linking every part's.
func (t *tracer) startJoin(ctx context.Context, r *nodeRun, runID string, attempt int, parts []*aggPart) trace.Span {
	first := parts[0]
	links := make([]trace.Link, 0, len(parts))
	for _, p := range parts {
		if p.firstSeen.Before(first.firstSeen) {
			first = p
		}
		if sc := trace.SpanContextFromContext(remote(ctx, &p.d.Message)); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
				semconv.MessagingMessageID(p.d.MessageID),
				attrNode.String(p.d.Source),
			}})
		}
	}
	q := r.n.in.Queue
	_, span := t.t.Start(remote(ctx, &first.d.Message), r.spanName,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...),
		trace.WithAttributes(operationProcess...),
		trace.WithAttributes(
			semconv.MessagingDestinationName(q),
			semconv.MessagingRabbitMQDestinationRoutingKey(q),
			semconv.MessagingBatchMessageCount(len(parts)),
			attrRunID.String(runID),
			attrNode.String(r.addr),
			attrAttempt.Int(attempt),
		))
	return span
}

// startPublish starts the PRODUCER span of a new run from start node n:
// "publish <queue>" (with several destination queues, "publish <node>"), a
// child of the span in ctx if there is one, else the root of a new trace.
// Every message of outs carries its context.
func (t *tracer) startPublish(ctx context.Context, n Node, runID string, outs []out) trace.Span {
	name := "publish " + n.Addr()
	attrs := []attribute.KeyValue{
		attrRunID.String(runID),
		attrNode.String(n.Addr()),
		attrAttempt.Int(1),
	}
	if len(outs) == 1 {
		o := outs[0]
		name = "publish " + o.key
		attrs = append(attrs,
			semconv.MessagingDestinationName(o.key),
			semconv.MessagingRabbitMQDestinationRoutingKey(o.key),
			semconv.MessagingMessageID(o.msg.MessageID))
	} else {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(outs)))
	}
	_, span := t.t.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(operationPublish...), trace.WithAttributes(attrs...))
	for i := range outs {
		carry(span, &outs[i].msg)
	}
	return span
}

// endSpan ends span (nil: none), recording err, if any, as its error.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// spanEvent adds event name with attrs to span (nil: none).
func spanEvent(span trace.Span, name string, attrs ...attribute.KeyValue) {
	if span != nil {
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}

// spanContext returns ctx carrying span (ctx itself when span is nil), for
// what runs or logs on behalf of the message span traces.
func spanContext(ctx context.Context, span trace.Span) context.Context {
	if span == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, span)
}

// startGather starts the CONSUMER span of gather r's completion of split
// st (the list handler's call, or the fold's accumulator, and the output's
// publish): a child of the first item's context, with the item count
// (dge.split.count) and links to at most maxGatherLinks items. The output
// carries its context.
func (t *tracer) startGather(ctx context.Context, r *nodeRun, st *splitState) trace.Span {
	first := Message{TraceParent: st.traceParent, TraceState: st.traceState}
	links := make([]trace.Link, 0, len(st.links))
	for _, tp := range st.links {
		m := Message{TraceParent: tp}
		if sc := trace.SpanContextFromContext(remote(ctx, &m)); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	q := r.n.in.Queue
	_, span := t.t.Start(remote(ctx, &first), r.spanName,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...),
		trace.WithAttributes(operationProcess...),
		trace.WithAttributes(
			semconv.MessagingDestinationName(q),
			semconv.MessagingRabbitMQDestinationRoutingKey(q),
			attrSplitCount.Int(st.count),
			attrRunID.String(st.runID),
			attrNode.String(r.addr),
			attrAttempt.Int(st.attempt),
		))
	return span
}

// maxGatherLinks bounds the items a gather's span links.
const maxGatherLinks = 32
