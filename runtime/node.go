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
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dgehq/dge/topology"
)

// engine runs consuming nodes of one graph on one connection, reconnecting
// when the connection is lost.
type engine struct {
	g               *Graph
	tr              Transport
	log             *slog.Logger
	metrics         *metrics
	shutdownTimeout time.Duration
	connName        string
	vhost           string // the vhost connected to, when it differs from g.Vhost

	failures sync.WaitGroup // OnFailure calls in progress
}

// nodeRun is one consuming node inside an engine.
type nodeRun struct {
	e           *engine
	n           Node
	addr        string // n.Addr(), computed once: it is needed for every message
	prefetch    int
	concurrency int
	m           *nodeMetrics
	log         *slog.Logger
	joined      *recentRuns // aggregate: runs whose output was confirmed
	// deliveryLimit is the quorum work queues' delivery-limit (see
	// Graph.DeliveryLimit).
	deliveryLimit int
	maxBody       int // the graph's body size limit
}

func (e *engine) newRun(n Node, prefetch, concurrency int) *nodeRun {
	if prefetch <= 0 {
		prefetch = n.in.Prefetch
		if n.kind == KindAggregate {
			prefetch = max(prefetch, aggregatePrefetch)
		}
	}
	if prefetch <= 0 {
		prefetch = 32
	}
	if concurrency <= 0 {
		concurrency = n.in.Concurrency
	}
	if concurrency <= 0 {
		concurrency = 1
	}
	return &nodeRun{
		e:           e,
		n:           n,
		addr:        n.Addr(),
		prefetch:    prefetch,
		concurrency: concurrency,
		m:           e.metrics.node(n.Addr(), n.in.Queue),
		log:         e.log.With("node", n.Addr(), "queue", n.in.Queue),
		joined:      newRecentRuns(recentRunsSize),

		deliveryLimit: e.g.DeliveryLimit(),
		maxBody:       e.g.maxBody(),
	}
}

// errStartup marks an error found before the node ever ran (missing
// topology): it ends the program instead of being retried.
type errStartup struct{ err error }

func (e errStartup) Error() string { return e.err.Error() }
func (e errStartup) Unwrap() error { return e.err }

// run connects, verifies the topology, and runs every node until ctx is
// cancelled, reconnecting whenever the connection is lost: at once to
// another endpoint when the transport has several (see Endpoints), else,
// and when none of them answers, after an exponential backoff with jitter.
// It returns nil after a clean shutdown, and an errStartup for an invalid
// configuration or when the first connection is refused or finds the
// topology missing.
func (e *engine) run(ctx context.Context, runs []*nodeRun) error {
	b := backoff{min: 100 * time.Millisecond, max: 15 * time.Second}
	first := true
	var lost Conn // the connection just lost, while its endpoint has others
	for {
		conn, err := redial(ctx, e.tr, e.connName, lost)
		lost = nil
		if err == nil {
			err = e.verify(ctx, conn, runs)
			if err != nil {
				_ = conn.Close()
				if first && errors.Is(err, ErrNotFound) {
					return errStartup{err}
				}
			}
		} else if errors.Is(err, ErrConfig) || (first && errors.Is(err, ErrRefused)) {
			return errStartup{err}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := b.next()
			e.log.Warn("broker unavailable; retrying", "error", err.Error(), "retry_in", d.String())
			if !sleep(ctx, d) {
				return nil
			}
			continue
		}
		if first {
			e.log.Info("connected", "endpoint", endpointName(conn))
		} else {
			e.log.Info("reconnected", "endpoint", endpointName(conn))
		}
		first = false
		b.reset()
		e.runConn(ctx, conn, runs)
		_ = conn.Close()
		if e.metrics != nil {
			e.metrics.setBlocked(false) // a new connection starts unblocked
		}
		if ctx.Err() != nil {
			e.failures.Wait()
			return nil
		}
		if hasOtherEndpoints(e.tr, conn) {
			e.log.Warn("connection lost; connecting to another endpoint at once", "endpoint", endpointName(conn))
			lost = conn
			continue
		}
		d := b.next()
		e.log.Warn("connection lost; reconnecting", "endpoint", endpointName(conn), "retry_in", d.String())
		if !sleep(ctx, d) {
			e.failures.Wait()
			return nil
		}
	}
}

// verify checks that every queue and exchange the nodes use exists.
func (e *engine) verify(ctx context.Context, conn Conn, runs []*nodeRun) error {
	spec := e.g.spec()
	seenQ := map[string]bool{}
	seenX := map[string]bool{}
	for _, r := range runs {
		queues, exchanges := nodeObjects(spec, r.n)
		for _, q := range queues {
			if seenQ[q] {
				continue
			}
			seenQ[q] = true
			if err := conn.CheckQueue(ctx, q); err != nil {
				return e.notFound(err, "queue", q)
			}
		}
		for _, x := range exchanges {
			if seenX[x] {
				continue
			}
			seenX[x] = true
			if err := conn.CheckExchange(ctx, x); err != nil {
				return e.notFound(err, "exchange", x)
			}
		}
	}
	return nil
}

func (e *engine) notFound(err error, what, name string) error {
	if errors.Is(err, ErrNotFound) {
		vhost := e.vhost
		if vhost == "" {
			vhost = e.g.Vhost
		}
		return notFoundError{what: what, name: name, vhost: vhost}
	}
	return err
}

// notFoundError is a queue or exchange missing from the broker.
type notFoundError struct{ what, name, vhost string }

func (e notFoundError) Error() string {
	return fmt.Sprintf("%s %q not found in vhost %q: run \"dge apply\" first", e.what, e.name, e.vhost)
}

func (e notFoundError) Unwrap() error { return ErrNotFound }

// nodeObjects lists the queues and exchanges node n uses in the graph's
// topology spec: the queues derived from its edge queue (Q, Q.retry, Q.dead,
// and Q.poll for poll nodes) with the exchanges they are bound to, and its
// destinations with the work exchange it publishes them to.
func nodeObjects(spec topology.Topology, n Node) (queues, exchanges []string) {
	if n.kind != KindStart {
		for _, q := range spec.EdgeQueues(n.in.Queue) {
			queues = append(queues, q.Name)
		}
		for _, b := range spec.Bindings {
			if slices.Contains(queues, b.Queue) && !slices.Contains(exchanges, b.Exchange) {
				exchanges = append(exchanges, b.Exchange)
			}
		}
	}
	if len(n.to) > 0 && !slices.Contains(exchanges, spec.Work) {
		exchanges = append(exchanges, spec.Work)
	}
	return append(queues, n.to...), exchanges
}

// runConn runs every node's sessions on conn until ctx is cancelled or the
// connection is lost. A lost channel is reopened on the same connection.
func (e *engine) runConn(ctx context.Context, conn Conn, runs []*nodeRun) {
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() {
			b := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
			for {
				start := time.Now()
				err := r.session(ctx, conn)
				if ctx.Err() != nil {
					return
				}
				select {
				case <-conn.Done():
					return
				default:
				}
				if time.Since(start) > time.Minute {
					b.reset()
				}
				d := b.next()
				r.log.Warn("channel lost; reopening", "error", errString(err), "retry_in", d.String())
				if !sleep(ctx, d) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var errChannelLost = errors.New("channel closed by the broker")

// session consumes the node's queue on a new channel until ctx is cancelled
// (a graceful stop: cancel the consumer, finish in-flight work within the
// shutdown timeout, wait for confirms, ack, close) or the channel is lost
// (in-flight work is abandoned; the broker redelivers it).
func (r *nodeRun) session(ctx context.Context, conn Conn) error {
	window := r.prefetch*(len(r.n.to)+1) + r.concurrency + 16
	ch, err := conn.Channel(ctx, window)
	if err != nil {
		return err
	}
	defer ch.Close()
	deliveries, err := ch.Consume(ctx, r.n.in.Queue, r.prefetch)
	if err != nil {
		return err
	}
	r.log.Info("consuming", "prefetch", r.prefetch, "concurrency", r.concurrency)

	// Handlers and confirm waits outlive a shutdown signal; they stop when
	// the channel is lost or the shutdown timeout passes.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	s := &session{r: r, ch: ch, ctx: hctx}
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
		if err := ch.Cancel(); err != nil {
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
	agg   *aggState // aggregate nodes only
}

// admit decides whether delivery d may be handled, parking it when not: a
// forged dead-letter history, a crash loop (see parkCrashLoop), or an
// arrival past the node's max_attempts. It returns the delivery's attempt.
func (s *session) admit(d Delivery) (attempt int, ok bool) {
	r := s.r
	q := r.n.in.Queue
	attempt = d.attempt(q)
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
	r.m.consumed.Add(1)
	r.m.inFlight.Add(1)
	defer r.m.inFlight.Add(-1)
	attempt, ok := s.admit(d)
	if !ok {
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
		out, err := s.call(func(ctx context.Context) (any, error) { return r.n.process(ctx, in) })
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
	s.publishThenAck(d, outs)
}

// output builds the message a node publishes to queue to for delivery d.
func (s *session) output(d Delivery, to string, attempt int, body []byte) Message {
	return Message{
		Body:      body,
		MessageID: deriveID(d.MessageID, d.Body, s.r.addr, to),
		RunID:     d.RunID,
		Source:    s.r.addr,
		Attempt:   attempt,
	}
}

// call runs a handler with its latency measured and its panic recovered as
// an ordinary error.
func (s *session) call(f func(ctx context.Context) (any, error)) (v any, err error) {
	start := time.Now()
	defer func() {
		s.r.m.latency.observe(time.Since(start))
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return f(s.ctx)
}

type out struct {
	exchange, key string
	msg           Message
}

// publishThenAck publishes every output and hands their confirmations to
// the acker, which acks d once all are confirmed and routed, and rejects it
// (a retry) otherwise. A publish that fails outright means the channel is
// gone: d is left to the broker to redeliver.
func (s *session) publishThenAck(d Delivery, outs []out) {
	confs := make([]Confirmation, 0, len(outs))
	for _, o := range outs {
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if err != nil {
			// The channel is gone (or the shutdown timeout passed): the
			// broker redelivers d.
			s.r.log.Warn("publish failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
			return
		}
		confs = append(confs, c)
	}
	// The callbacks capture what they need, not d: capturing d would move
	// every delivery to the heap.
	r, n, runID, messageID := s.r, int64(len(outs)), d.RunID, d.MessageID
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: confs,
		ok:    func() { r.m.acked.Add(1); r.m.published.Add(n) },
		failed: func(err error) {
			r.m.retried.Add(1)
			r.log.Warn("output not confirmed; retrying the input", "run_id", runID, "message_id", messageID, "error", err.Error())
		},
	})
}

// fail handles a handler error: park when permanent or out of attempts,
// otherwise reject for a retry through Q.retry.
func (s *session) fail(d Delivery, attempt int, err error) {
	r := s.r
	switch {
	case IsPermanent(err):
		s.park(d, attempt, "permanent", err.Error())
	case r.n.in.MaxAttempts > 0 && attempt >= r.n.in.MaxAttempts:
		s.park(d, attempt, "max-attempts", err.Error())
	default:
		r.m.retried.Add(1)
		r.log.Warn("handler failed; retrying", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
			"retry_in", r.n.in.Retry.String(), "error", err.Error())
		s.acker.submit(ackItem{tag: d.Tag, reject: true})
	}
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
	r := s.r
	q := r.n.in.Queue
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
	r.log.Error("parking message", "run_id", d.RunID, "message_id", d.MessageID, "attempt", attempt,
		"reason", reason, "error", errText, "dead_queue", q+topology.SuffixDead)
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, q+topology.SuffixDead, m)
	if err != nil {
		r.log.Warn("park failed; the message will be redelivered", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		return
	}
	f := Failure{
		Node: r.n.Addr(), Queue: q, RunID: d.RunID, MessageID: d.MessageID, Attempt: attempt,
		Reason: reason, Error: errText, Body: preview(d.Body), BodySize: len(d.Body),
	}
	s.acker.submit(ackItem{
		tag:   d.Tag,
		confs: []Confirmation{c},
		ok: func() {
			r.m.parked.Add(1)
			f.ParkedAt = time.Now().UTC()
			r.e.onFailure(f)
		},
		failed: func(err error) {
			r.log.Error("parked copy not confirmed; rejecting for a retry", "run_id", d.RunID, "message_id", d.MessageID, "error", err.Error())
		},
	})
}

// onFailure calls the graph's failure handler in its own goroutine,
// recovering a panic.
func (e *engine) onFailure(f Failure) {
	if e.g.OnFailure == nil {
		return
	}
	e.failures.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				e.log.Error("on_failure handler panicked", "node", f.Node, "message_id", f.MessageID, "panic", fmt.Sprint(p))
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.g.OnFailure(ctx, f)
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

// backoff is exponential backoff with full jitter.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
