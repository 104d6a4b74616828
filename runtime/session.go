package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// session consumes the node's queue on a new channel until ctx is cancelled
// (a graceful stop: cancel the consumer, finish in-flight work within the
// shutdown timeout, wait for confirms, ack, close) or the channel is lost
// (in-flight work is abandoned; the broker redelivers it).
func (r *nodeRun) session(ctx context.Context, conn Conn) error {
	ch, err := conn.Channel(ctx, r.publishWindow())
	if err != nil {
		return err
	}
	defer ch.Close()
	deliveries, err := openWindow(ctx, ch, r.n.in.Queue, r.prefetch, r.concurrency, r.adaptive, r.m, r.log)
	if err != nil {
		return err
	}
	r.log.Info("consuming", "prefetch", r.prefetch, "window", r.windowMode(), "concurrency", r.concurrency)
	go deliveries.run(ctx)

	// Handlers and confirm waits outlive a shutdown signal; they stop when
	// the channel is lost or the shutdown timeout passes.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	s := &session{r: r, ch: ch, ctx: hctx, win: deliveries}
	s.acker = newAcker(s)
	s.acker.single = r.n.kind == KindAggregate
	go s.acker.run()

	var workers sync.WaitGroup
	switch r.n.kind {
	case KindAggregate:
		workers.Go(func() { s.aggregateLoop(deliveryChan(deliveries)) })
	default:
		for range r.concurrency {
			workers.Go(func() {
				for {
					d, ok := deliveries.Next()
					if !ok {
						return
					}
					s.handle(d)
				}
			})
		}
	}
	workersDone := make(chan struct{})
	go func() { workers.Wait(); close(workersDone) }()

	select {
	case <-ctx.Done():
		r.log.Info("stopping: finishing in-flight messages", "timeout", r.e.shutdownTimeout.String())
		if err := deliveries.cancel(); err != nil {
			r.log.Warn("cancel consumer", "error", err.Error())
		}
		timer := time.NewTimer(r.e.shutdownTimeout)
		defer timer.Stop()
		select {
		case <-workersDone:
			s.acker.close()
			select {
			case <-s.acker.done:
				r.log.Info("stopped cleanly")
			case <-timer.C:
				r.log.Warn("shutdown timeout passed waiting for confirms; unacknowledged messages will be redelivered")
			case <-ch.Done():
			}
		case <-timer.C:
			r.log.Warn("shutdown timeout passed with handlers still running; their messages will be redelivered")
		case <-ch.Done():
		}
		hcancel()
		_ = ch.Close()
		<-workersDone
		s.acker.close()
		<-s.acker.done
		return nil
	case <-ch.Done():
		hcancel()
		<-workersDone
		s.acker.close()
		<-s.acker.done
		return errChannelLost
	case <-workersDone:
		// The broker cancelled the consumer (e.g. the queue was deleted).
		s.acker.close()
		<-s.acker.done
		return errors.New("consumer cancelled by the broker")
	}
}

// session is one channel's worth of a node's work.
type session struct {
	r     *nodeRun
	ch    Channel
	ctx   context.Context
	acker *acker
	win   *window   // the consumer and its prefetch window
	agg   *aggState // aggregate nodes only
}

// admit decides whether delivery d may be handled, parking it when not: a
// header or property the runtime cannot use or copy (checkDelivery), a
// forged dead-letter history, a crash loop (see parkCrashLoop), or an
// arrival past the node's max_attempts. It returns the delivery's attempt.
func (s *session) admit(d Delivery) (attempt int, ok bool) {
	r := s.r
	q := r.n.in.Queue
	attempt = d.attempt(q)
	if bad := checkDelivery(d); bad != nil {
		s.parkBadHeader(d, attempt, bad)
		return 0, false
	}
	if err := d.forgedDeath(q); err != nil {
		s.park(d, 1, "decode", err.Error())
		return 0, false
	}
	if s.parkCrashLoop(d, attempt) {
		return 0, false
	}
	if r.n.in.MaxAttempts > 0 && attempt > r.n.in.MaxAttempts {
		reason := "max-attempts"
		if d.lastDeathReason(q) == "delivery_limit" {
			reason = "delivery-limit"
		}
		s.park(d, attempt-1, reason, fmt.Sprintf("arrived for attempt %d of at most %d", attempt, r.n.in.MaxAttempts))
		return 0, false
	}
	return attempt, true
}

// handle processes one delivery of a process, fan_out or poll node.
func (s *session) handle(d Delivery) {
	r := s.r
	if r.debug {
		d.received = time.Now()
	}
	r.m.consumed.Add(1)
	r.m.inFlight.Add(1)
	defer r.m.inFlight.Add(-1)
	f, notice := noticeOf(d.Message)
	if d.RunID == "" && !notice {
		// (A notice without a run ID tells no one anything: forwardNotice
		// discards it.)
		d.RunID = s.externalRunID(d)
	}
	if t := r.e.tracer; t != nil {
		d.span = t.startProcess(s.ctx, r, &d)
	}
	attempt, ok := s.admit(d)
	if !ok {
		return
	}
	if notice {
		s.forwardNotice(d, attempt, f)
		return
	}
	in, err := r.n.decodeBody(d.Body, r.maxBody)
	if err != nil {
		s.park(d, attempt, "decode", fmt.Sprintf("decode %s: %v", r.n.in.Message, err))
		return
	}
	var body []byte // every output's body
	switch r.n.kind {
	case KindProcess:
		out, err := s.call(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, error) { return r.n.process(ctx, in) })
		if err != nil {
			s.fail(d, attempt, err)
			return
		}
		body, err = json.Marshal(out)
		if err != nil {
			s.park(d, attempt, "permanent", fmt.Sprintf("encode output %T: %v", out, err))
			return
		}
	case KindFanOut:
		body = d.Body
	case KindPoll:
		s.handlePoll(d, attempt, in)
		return
	default:
		s.park(d, attempt, "permanent", "node kind "+string(r.n.kind)+" does not consume")
		return
	}
	var one [1]out
	outs := one[:0]
	if len(r.n.to) > 1 {
		outs = make([]out, 0, len(r.n.to))
	}
	for _, to := range r.n.to {
		outs = append(outs, out{exchange: r.e.g.WorkExchange, key: to, msg: s.output(d, to, attempt, body)})
	}
	s.publishThenAck(d, attempt, outs)
}

// externalRunID gives a message published without dge's envelope (no run
// ID: not by publish, local or a node) the run ID it keeps downstream, so
// its outputs can be joined and its failure reported: derived from its
// AMQP message ID when it has one (the same for every redelivery), else
// new.
func (s *session) externalRunID(d Delivery) string {
	id := newRunID()
	if d.MessageID != "" {
		id = deriveID(d.MessageID, nil, "run-id", s.r.n.in.Queue)
	}
	s.r.log.Debug("message without a run ID given one", "message_id", d.MessageID, "run_id", id)
	return id
}

// output builds the message a node publishes to queue to for delivery d:
// it carries the context of d's span, or, when the node does not trace, the
// context d carries, so that a run stays one trace across it.
func (s *session) output(d Delivery, to string, attempt int, body []byte) Message {
	m := Message{
		Body:      body,
		MessageID: deriveID(d.MessageID, d.Body, s.r.addr, to),
		RunID:     d.RunID,
		Source:    s.r.addr,
		Attempt:   attempt,
		Headers:   redrivenHeaders(d.Headers),
	}
	continueTrace(d.span, d.Message, &m)
	return m
}

// call runs a handler with ctx (see handlerContext), its latency measured
// and its panic recovered as an ordinary error.
func (s *session) call(ctx context.Context, f func(ctx context.Context) (any, error)) (v any, err error) {
	start := time.Now()
	defer func() {
		took := time.Since(start)
		s.r.m.latency.observe(took)
		s.win.handled(took)
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return f(ctx)
}

// handlerContext returns the context of one handler call: the session's,
// carrying span (nil: none) as the parent of the handler's own spans, and
// the node, run ID, message ID (none for an aggregate's group) and attempt
// for the lines the handler logs with it (see contextHandler).
func (s *session) handlerContext(span trace.Span, runID, messageID string, attempt int) context.Context {
	return context.WithValue(spanContext(s.ctx, span), logAttrsKey{}, &logAttrs{node: s.r.addr, runID: runID, messageID: messageID, attempt: attempt})
}

// handled logs, at debug level, how the handling of a delivery ended:
// done (its outputs confirmed, it was acked), pending (a poll job went back
// through Q.poll), retry (rejected for a retry through Q.retry), parked, or
// redeliver (the channel was lost first: the broker redelivers it). span
// (nil: none) traces the delivery. Call it only when r.debug.
func (r *nodeRun) handled(span trace.Span, runID, messageID string, attempt int, received time.Time, outcome string) {
	r.log.DebugContext(spanContext(context.Background(), span), "handled", "run_id", runID, "message_id", messageID, "attempt", attempt,
		"duration", time.Since(received).String(), "outcome", outcome)
}

type out struct {
	exchange, key string
	msg           Message
}

// publishThenAck publishes every output and hands their confirmations to
// the acker, which acks d once all are confirmed and routed, and rejects it
// (a retry) otherwise. A publish that fails outright means the channel is
// gone: d is left to the broker to redeliver.
func (s *session) publishThenAck(d Delivery, attempt int, outs []out) {
	confs := make([]Confirmation, 0, len(outs))
	for _, o := range outs {
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if errors.Is(err, errUnpublishable) {
			// The transport refused this output, the channel untouched:
			// d's fault, d's alone.
			s.unpublishable(d, attempt, o.key, err, confs)
			return
		}
		if err != nil {
			// The channel is gone (or the shutdown timeout passed): the
			// broker redelivers d.
			endSpan(d.span, err)
			s.r.log.WarnContext(spanContext(s.ctx, d.span), "publish failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
			if s.r.debug {
				s.r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
			}
			return
		}
		confs = append(confs, c)
	}
	// The callbacks capture what they need, not d: capturing d would move
	// every delivery to the heap.
	r, n, runID, messageID, span := s.r, int64(len(outs)), d.RunID, d.MessageID, d.span
	ok := func() { r.m.acked.Add(1); r.m.published.Add(n) }
	if r.debug {
		received := d.received
		ok = func() {
			r.m.acked.Add(1)
			r.m.published.Add(n)
			r.handled(span, runID, messageID, attempt, received, "done")
		}
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		span:  span,
		ok:    ok,
		failed: func(err error) {
			r.m.retried.Add(1)
			r.log.WarnContext(spanContext(context.Background(), span), "output not confirmed; retrying the input", "run_id", runID, "message_id", messageID, "error", err.Error())
		},
	})
}

// unpublishable parks d, one of whose outputs (to queue key) the transport
// refused with err; the outputs published before it (confs) are left to
// their fate, their confirmations taken so that they free the channel's
// publish window.
func (s *session) unpublishable(d Delivery, attempt int, key string, err error, confs []Confirmation) {
	go func() {
		for _, c := range confs {
			_ = c.Wait(s.ctx)
		}
	}()
	s.park(d, attempt, "permanent", fmt.Sprintf("output to %s: %v", key, err))
}

// fail handles a handler error: park when permanent or out of attempts,
// otherwise reject for a retry through Q.retry.
func (s *session) fail(d Delivery, attempt int, err error) {
	r := s.r
	if d.span != nil {
		d.span.RecordError(err)
		d.span.SetStatus(codes.Error, err.Error())
	}
	if reason := r.parkReason(err, attempt); reason != "" {
		s.park(d, attempt, reason, err.Error())
	} else {
		r.m.retried.Add(1)
		spanEvent(d.span, "retry", attrError.String(err.Error()), attrRetryIn.String(r.n.in.Retry.String()))
		r.log.WarnContext(spanContext(s.ctx, d.span), "handler failed; retrying", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
			"retry_in", r.n.in.Retry.String(), "error", err.Error())
		if r.debug {
			r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "retry")
		}
		s.acker.submit(ackItem{tag: d.Tag, reject: true, span: d.span})
	}
}

// parkReason decides what a handler error at attempt means, for every node
// kind: "permanent" or "max-attempts" to park the input, "" to retry it.
func (r *nodeRun) parkReason(err error, attempt int) string {
	switch {
	case IsPermanent(err):
		return "permanent"
	case r.n.in.MaxAttempts > 0 && attempt >= r.n.in.MaxAttempts:
		return "max-attempts"
	}
	return ""
}

// park publishes a copy of d to Q.dead with the reason in its headers, and
// acks d once the copy is confirmed; then calls the graph's OnFailure. If
// the copy is not confirmed, d is rejected (and comes back after the retry
// delay) so nothing is lost.
// parkCrashLoop parks a delivery the broker has handed out so often without
// it being settled (each time a consumer died or lost its channel holding
// it) that it is one redelivery short of the queue's delivery-limit, and
// reports whether it did. See crashThreshold for why the runtime must not
// leave this to the broker. Classic queues report no delivery count, so
// this never fires there.
func (s *session) parkCrashLoop(d Delivery, attempt int) bool {
	limit := s.r.deliveryLimit
	t := crashThreshold(limit)
	n := d.redeliveries()
	if t == 0 || n < t {
		return false
	}
	s.park(d, attempt, "delivery-limit", fmt.Sprintf(
		"delivered %d times without being settled (its consumer crashed or lost its channel each time); parked before the queue's delivery-limit of %d makes the broker dead-letter it",
		n+1, limit))
	return true
}

func (s *session) park(d Delivery, attempt int, reason, errText string) {
	s.parkWith(d, attempt, reason, errText, parkOpts{notify: true, report: true})
}

// parkOpts says what parking a message does besides parking it.
type parkOpts struct {
	// notify sends a failure notice of the message's run on every output
	// of the node, confirmed before the message is acked.
	notify bool
	// report calls the graph's on_failure once the park is confirmed.
	report bool
}

// parkWith parks d as park does, doing what o says besides.
func (s *session) parkWith(d Delivery, attempt int, reason, errText string, o parkOpts) {
	r := s.r
	q := r.n.in.Queue
	if t := r.e.tracer; t != nil && d.span == nil {
		// An aggregate's part has no span of its own until it is parked.
		d.span = t.startProcess(s.ctx, r, &d)
	}
	if d.span != nil {
		d.span.SetAttributes(attrAttempt.Int(attempt))
		d.span.AddEvent("park", trace.WithAttributes(
			attrReason.String(reason), attrError.String(errText),
			attrDeadQueue.String(q+topology.SuffixDead)))
		d.span.SetStatus(codes.Error, "parked ("+reason+"): "+errText)
	}
	ctx := spanContext(s.ctx, d.span)
	errText = clipText(errText)
	h := make(map[string]any, len(d.Headers)+4)
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = reason
	h[HeaderError] = errText
	h[HeaderNode] = r.n.Addr()
	m := d.Message
	m.Headers = h
	m.Attempt = attempt
	if d.span != nil {
		// A redriven copy continues the run's trace under the park.
		carry(d.span, &m)
	}
	r.log.ErrorContext(ctx, "parking message", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
		"reason", reason, "error", errText, "dead_queue", q+topology.SuffixDead)
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, q+topology.SuffixDead, m)
	if errors.Is(err, errUnpublishable) {
		// Never expected (admit checked d): park the body with the
		// parking headers alone rather than leave d unsettled.
		r.log.ErrorContext(ctx, "parked copy refused; parking it without its other headers", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		m.Headers = map[string]any{HeaderReason: reason, HeaderError: errText, HeaderNode: h[HeaderNode]}
		c, err = s.ch.Publish(s.ctx, r.e.g.WorkExchange, q+topology.SuffixDead, m)
	}
	confs := []Confirmation{c}
	runID := d.RunID
	notify := o.notify && runID != "" && len(r.n.to) > 0
	if notify && r.n.kind == KindAggregate && r.failed.has(runID) {
		notify = false // this aggregate sent the run's one notice already
	}
	if err == nil && notify {
		// The run is over: say so downstream, before d is settled.
		f := RunFailure{Node: r.addr, Reason: reason, Error: errText}
		if nf, ok := noticeOf(d.Message); ok {
			f = nf // a notice that could not be passed on passes on its own failure
		}
		id := d.MessageID
		if r.n.kind == KindAggregate {
			id = "failed:" + runID // one notice per run, however many parts
			r.failed.add(runID)
		}
		for _, o := range r.notices(runID, id, attempt, f) {
			// The notice continues the run's trace under the park.
			continueTrace(d.span, d.Message, &o.msg)
			var nc Confirmation
			if nc, err = s.ch.Publish(s.ctx, o.exchange, o.key, o.msg); err != nil {
				break
			}
			confs = append(confs, nc)
		}
	}
	aggNotify := notify && r.n.kind == KindAggregate
	if err != nil {
		if aggNotify {
			r.failed.remove(runID)
		}
		endSpan(d.span, err)
		r.log.WarnContext(ctx, "park failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		if r.debug {
			r.handled(d.span, d.RunID, d.MessageID, attempt, d.received, "redeliver")
		}
		return
	}
	f := Failure{
		Node: r.n.Addr(), Queue: q, RunID: d.RunID, MessageID: d.MessageID, Attempt: attempt,
		Reason: reason, Error: errText, Body: preview(d.Body), BodySize: len(d.Body),
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		span:  d.span,
		ok: func() {
			r.m.parked.Add(1)
			f.ParkedAt = time.Now().UTC()
			if r.debug {
				r.handled(d.span, f.RunID, f.MessageID, attempt, d.received, "parked")
			}
			if o.report {
				r.e.onFailure(ctx, f)
			}
		},
		failed: func(err error) {
			if aggNotify {
				r.failed.remove(runID)
			}
			r.log.ErrorContext(ctx, "parked copy not confirmed; rejecting for a retry", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		},
	})
}

// deriveID returns the ID of the output a node publishes to queue for an
// input: the same for every redelivery of the input.
func deriveID(inputID string, body []byte, node, queue string) string {
	var buf [256]byte // on the stack for the usual short IDs and names
	b := buf[:0]
	if inputID != "" {
		b = append(b, inputID...)
	} else {
		b = append(b, body...)
	}
	b = append(b, 0)
	b = append(b, node...)
	b = append(b, 0)
	b = append(b, queue...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// newRunID returns a new random run ID.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// crashThreshold returns the redelivery count at which the runtime parks a
// message itself, one delivery before the broker's delivery-limit: a
// message dead-lettered for delivery_limit would reach Q.retry and then be
// dropped by RabbitMQ's dead-letter cycle detection when it expires there
// (its cycle holds no rejection), so it must never get that far. The one
// delivery to spare covers a crash while the park itself is in progress.
func crashThreshold(limit int) int {
	if limit <= 0 {
		return 0
	}
	return max(limit-1, 1)
}

// logAttrsKey is the context key of a handler call's logAttrs.
type logAttrsKey struct{}

// logAttrs is what a handler call's context carries for its log lines.
type logAttrs struct {
	node, runID, messageID string
	attempt                int
}

// contextHandler wraps the runtime's slog.Handler so that a line logged
// with a handler call's context (slog.InfoContext(ctx, ...) in the handler)
// carries the call's node, run_id, message_id and attempt, and a line
// logged with a traced context (the handler's, or the runtime's own lines
// about a message) its trace_id and span_id. A key the logger (With) or the
// line already has is not added again.
type contextHandler struct {
	h    slog.Handler
	keys []string // keys added by WithAttrs outside any group
	// grouped is set after WithGroup: the line's own attributes, and the
	// call's, go into the group, so no key clashes with keys.
	grouped bool
}

// Enabled reports whether the wrapped handler handles level.
func (c contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return c.h.Enabled(ctx, level)
}

// Handle adds the handler call's attributes from ctx, if any, to r and
// passes it on.
func (c contextHandler) Handle(ctx context.Context, r slog.Record) error {
	la, ok := ctx.Value(logAttrsKey{}).(*logAttrs)
	sc := trace.SpanContextFromContext(ctx)
	if !ok && !sc.IsValid() {
		return c.h.Handle(ctx, r)
	}
	has := map[string]bool{}
	if !c.grouped {
		for _, k := range c.keys {
			has[k] = true
		}
	}
	r.Attrs(func(a slog.Attr) bool { has[a.Key] = true; return true })
	r = r.Clone()
	add := func(a slog.Attr) {
		if !has[a.Key] {
			r.AddAttrs(a)
		}
	}
	if ok {
		add(slog.String("node", la.node))
		add(slog.String("run_id", la.runID))
		if la.messageID != "" {
			add(slog.String("message_id", la.messageID))
		}
		add(slog.Int("attempt", la.attempt))
	}
	if sc.IsValid() {
		add(slog.String("trace_id", sc.TraceID().String()))
		add(slog.String("span_id", sc.SpanID().String()))
	}
	return c.h.Handle(ctx, r)
}

// WithAttrs returns the handler with attrs added to every line.
func (c contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	keys := c.keys
	if !c.grouped {
		keys = slices.Clip(keys)
		for _, a := range attrs {
			keys = append(keys, a.Key)
		}
	}
	return contextHandler{h: c.h.WithAttrs(attrs), keys: keys, grouped: c.grouped}
}

// WithGroup returns the handler with later attributes nested under name.
func (c contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return c
	}
	return contextHandler{h: c.h.WithGroup(name), keys: c.keys, grouped: true}
}
