package dgetest

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/memory"
	"go.opentelemetry.io/otel/trace"
)

// TB is the part of testing.TB the helpers use; *testing.T and *testing.B
// satisfy it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// DefaultTimeout bounds every wait of a Harness unless Timeout is given.
const DefaultTimeout = time.Minute

// Option configures Start.
type Option func(*config)

type config struct {
	local   dge.LocalOptions
	memory  memory.Options
	timeout time.Duration
}

// RetryDelay replaces every edge's retry delay: how long a message whose
// handler failed waits before its next attempt.
func RetryDelay(d time.Duration) Option {
	return func(c *config) { c.memory.RetryDelay = d }
}

// PollInterval replaces every poll node's interval: how long a check that
// is not done waits before the next one.
func PollInterval(d time.Duration) Option {
	return func(c *config) { c.memory.PollInterval = d }
}

// AggregateTimeout replaces every aggregate node's timeout: how long an
// incomplete group waits for its missing parts before it is parked with
// reason incomplete-group. (A run that failed in another branch does not
// wait for it: its parts are parked as member-failed at once.)
func AggregateTimeout(d time.Duration) Option {
	return func(c *config) { c.local.AggregateTimeout = d }
}

// PollTimeout replaces every poll node's timeout: how long a job may stay
// not done before it is parked with reason timeout.
func PollTimeout(d time.Duration) Option {
	return func(c *config) { c.local.PollTimeout = d }
}

// Timeout bounds every wait of the harness (Results, WaitParked, Wait)
// instead of DefaultTimeout.
func Timeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// Logger sends the nodes' logs to l (they are discarded by default).
func Logger(l *slog.Logger) Option {
	return func(c *config) { c.local.Logger = l }
}

// TracerProvider traces every run through tp as a node program does (see
// the runtime's package documentation, Tracing): give it an SDK provider
// with the tracetest package's SpanRecorder to check a graph's spans.
func TracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.local.TracerProvider = tp }
}

// Harness is a graph running in a test. Its methods may be called from
// several goroutines.
type Harness struct {
	l       *dge.Local
	timeout time.Duration
}

// Start runs every node of g on a new in-memory broker, and stops them in
// t.Cleanup. It fails the test if g is invalid.
func Start(t TB, g dge.Graph, opts ...Option) *Harness {
	t.Helper()
	c := config{timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	l, err := dge.StartLocal(g, memory.New(g, c.memory), c.local)
	if err != nil {
		t.Fatalf("dgetest: start graph %q: %v", g.Name, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("dgetest: stop graph %q: %v", g.Name, err)
		}
	})
	return &Harness{l: l, timeout: c.timeout}
}

// Local returns the running graph, for what the helpers do not cover.
func (h *Harness) Local() *dge.Local { return h.l }

func (h *Harness) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), h.timeout)
}

// Publish sends input as a new run from start node start (its name, e.g.
// "start") and returns the run ID. input is encoded as JSON, unless it is
// a []byte or json.RawMessage, which is sent as is; either way it must
// decode strictly as the start node's message type.
func (h *Harness) Publish(t TB, start string, input any) string {
	t.Helper()
	var body []byte
	switch v := input.(type) {
	case []byte:
		body = v
	case json.RawMessage:
		body = v
	default:
		b, err := json.Marshal(input)
		if err != nil {
			t.Fatalf("dgetest: encode input %T: %v", input, err)
		}
		body = b
	}
	ctx, cancel := h.ctx()
	defer cancel()
	id, err := h.l.Publish(ctx, start, body)
	if err != nil {
		t.Fatalf("dgetest: publish to %s: %v", start, err)
	}
	return id
}

// Results waits until terminate node terminate (its name, e.g. "result")
// has received at least n results, and returns every result it received so
// far, decoded as T, in arrival order. It fails the test if the wait times
// out or a result does not decode strictly as T: a field T lacks, data
// after the value, null for a non-pointer T, or a field T always writes
// (no omitempty) missing from the result, so that naming the wrong type
// fails rather than returns zero values.
func Results[T any](t TB, h *Harness, terminate string, n int) []T {
	t.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	rs, err := h.l.WaitResults(ctx, terminate, n)
	if err != nil {
		t.Fatalf("dgetest: %v; parked so far: %s", err, describe(h.l.Parked()))
	}
	out := make([]T, len(rs))
	for i, r := range rs {
		v, err := decodeStrict[T](r.Body)
		if err != nil {
			t.Fatalf("dgetest: result %s of run %s does not decode as %T: %v", r.Body, r.RunID, out[i], err)
		}
		out[i] = v
	}
	return out
}

// Failures waits until terminate node terminate (its name, e.g. "result")
// has received at least n failure records, and returns every one it
// received so far, in arrival order: one per run that failed upstream,
// with Failed saying where and why (the node that parked the run's
// message, the reason, the error). It fails the test if the wait times
// out.
func Failures(t TB, h *Harness, terminate string, n int) []dge.Result {
	t.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	rs, err := h.l.WaitFailures(ctx, terminate, n)
	if err != nil {
		t.Fatalf("dgetest: %v; parked so far: %s", err, describe(h.l.Parked()))
	}
	return rs
}

// Parked returns the messages node (its name, e.g. "double"; "" for every
// node) has parked so far, oldest first, without waiting.
func (h *Harness) Parked(t TB, node string) []dge.Failure {
	t.Helper()
	fs, err := h.l.WaitParked(context.Background(), node, 0)
	if err != nil {
		t.Fatalf("dgetest: %v", err)
	}
	return fs
}

// WaitParked waits until node (its name; "" for any node) has parked at
// least n messages, and returns every message it parked so far, oldest
// first. It fails the test if the wait times out.
func (h *Harness) WaitParked(t TB, node string, n int) []dge.Failure {
	t.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	fs, err := h.l.WaitParked(ctx, node, n)
	if err != nil {
		t.Fatalf("dgetest: %v", err)
	}
	return fs
}

// Wait waits until every run published so far has finished: nothing is
// left in flight (every message reached a terminate node or was parked).
// A run that failed in one branch ends without waiting for an aggregate's
// timeout: the join parks its other parts as member-failed at once. It
// fails the test if the wait times out, naming the queues still busy.
func (h *Harness) Wait(t TB) {
	t.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	if err := h.l.WaitIdle(ctx); err != nil {
		t.Fatalf("dgetest: runs not finished: %v; messages in flight by queue: %v", err, h.l.Pending())
	}
}

// describe summarizes parked messages for a failure message.
func describe(fs []dge.Failure) string {
	if len(fs) == 0 {
		return "none"
	}
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += "; "
		}
		s += f.Node + " " + f.Reason + ": " + f.Error
	}
	return s
}
