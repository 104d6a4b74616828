package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/topology"
)

// Broker is an in-memory broker holding one graph's topology, as dge apply
// creates it on RabbitMQ with quorum queues: the work, retry and (with poll
// nodes) poll exchanges, direct routing; for every node's edge queue Q the
// queues Q (dead-lettering to the retry exchange, with a delivery limit of
// the graph's largest MaxAttempts, and a single active consumer for
// aggregates), Q.retry (TTL the edge's retry delay, dead-lettering to the
// work exchange), Q.dead, and for poll nodes Q.poll (TTL the node's
// interval, dead-lettering to the work exchange); and their bindings.
//
// It implements runtime.Transport with the semantics the runtime relies on:
// publisher confirms; mandatory publishes returned when no queue is bound
// to the key; manual acknowledgements, single or multiple; per-consumer
// prefetch; rejection dead-lettering with the message's routing key and an
// x-death entry (queue, reason, count) updated as RabbitMQ does;
// per-queue TTL expiry dead-lettering with reason expired; unacknowledged
// deliveries returned to the head of their queue, marked redelivered with
// their delivery count raised, when their channel or connection closes, and
// dead-lettered with reason delivery_limit past the delivery limit; a
// single active consumer with hand-over to the next consumer in line; and
// RabbitMQ's dead-letter cycle detection, which drops a message whose
// dead-lettering would bring it back to a queue it left with no rejection
// on the way (notably: past the delivery limit, through Q.retry, back to Q;
// see Dropped).
// Messages are kept until acknowledged, in memory only: nothing survives
// the process.
//
// A Broker is safe for concurrent use. Close stops its timers and closes
// every connection.
type Broker struct {
	mu        sync.Mutex
	closed    bool
	exchanges map[string]*memExchange
	queues    map[string]*memQueue
	conns     map[*memConn]struct{}
	live      int             // messages in counted queues (not dead, not state): ready, delayed or unacknowledged
	idle      []chan struct{} // closed when live drops to 0
	dropped   int             // dead-lettered messages no queue took
	parked    chan struct{}   // closed and replaced when a dead queue receives a message
}

// Options adjusts a Broker's topology for tests.
type Options struct {
	// RetryDelay, when positive, replaces every edge's retry delay (the TTL
	// of every Q.retry).
	RetryDelay time.Duration
	// PollInterval, when positive, replaces every poll node's interval
	// (the TTL of every Q.poll).
	PollInterval time.Duration
}

type memExchange struct {
	name     string
	bindings map[string][]*memQueue // routing key → queues
}

type memQueue struct {
	name string
	dead bool // a parking queue: its messages do not count as live
	// state is set on a gather's state queue: its messages do not count as
	// live either (a gather's active instance always holds one there).
	state         bool
	dlx           string // dead-letter exchange; "" for none
	ttl           time.Duration
	deliveryLimit int // 0: none
	singleActive  bool
	quorum        bool // reports delivery counts, as quorum queues do

	ready     []*memMsg
	consumers []*memConsumer // in registration order; the first is active with singleActive
	cond      *sync.Cond     // signalled when ready, consumers or a consumer's room change
	timer     *time.Timer    // expiry of the head message, with ttl
}

// memMsg is one message stored in a queue.
type memMsg struct {
	m           dge.Message // Headers owned by the broker
	exchange    string      // the exchange it was last published or dead-lettered through
	key         string      // its routing key
	deliveries  int         // times it was delivered and returned (x-delivery-count)
	redelivered bool
	expires     time.Time // with a ttl queue: when it dead-letters
	enqueued    time.Time
}

// New returns an in-memory broker holding graph g's topology: the
// objects package topology derives for it, as dge apply creates them.
func New(g dge.Graph, opts Options) *Broker {
	b := &Broker{
		exchanges: map[string]*memExchange{},
		queues:    map[string]*memQueue{},
		conns:     map[*memConn]struct{}{},
		parked:    make(chan struct{}),
	}
	spec := g.Spec()
	for _, x := range spec.Exchanges {
		b.exchanges[x] = &memExchange{name: x, bindings: map[string][]*memQueue{}}
	}
	for _, q := range spec.Queues {
		ttl := q.TTL
		switch {
		case q.Role == topology.RoleRetry && opts.RetryDelay > 0:
			ttl = topology.TTL(opts.RetryDelay)
		case q.Role == topology.RolePoll && opts.PollInterval > 0:
			ttl = topology.TTL(opts.PollInterval)
		}
		mq := &memQueue{
			name: q.Name, dead: q.Role == topology.RoleDead, state: q.Role == topology.RoleState, dlx: q.DeadLetterExchange, ttl: ttl,
			deliveryLimit: q.DeliveryLimit, singleActive: q.SingleActive, quorum: spec.Quorum(),
			cond: sync.NewCond(&b.mu),
		}
		b.queues[q.Name] = mq
	}
	for _, bd := range spec.Bindings {
		x := b.exchanges[bd.Exchange]
		x.bindings[bd.Key] = append(x.bindings[bd.Key], b.queues[bd.Queue])
	}
	return b
}

var errClosed = errors.New("in-memory broker closed")

// Close closes every connection (unacknowledged deliveries go back to their
// queues) and stops every timer; messages are kept but no longer expire.
// Dial fails afterwards.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	for c := range b.conns {
		c.closeLocked()
	}
	b.closed = true
	for _, q := range b.queues {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
		q.cond.Broadcast()
	}
	for _, ch := range b.idle {
		close(ch)
	}
	b.idle = nil
	return nil
}

// WaitIdle blocks until no message is left outside the dead queues and
// gathers' state queues: no ready, delayed (in Q.retry or Q.poll) or
// unacknowledged message anywhere else. It returns ctx's error if ctx ends first, and an error once the
// broker is closed.
func (b *Broker) WaitIdle(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	if b.live == 0 {
		b.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	b.idle = append(b.idle, ch)
	b.mu.Unlock()
	select {
	case <-ch:
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.closed {
			return errClosed
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped returns the number of dead-lettered messages that no queue took:
// those RabbitMQ would drop too (see Broker).
func (b *Broker) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// parkedSignal returns a channel closed when a dead queue next receives a
// message.
func (b *Broker) ParkedSignal() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.parked
}

// Pending returns, per queue, the messages in it (ready, delayed or
// unacknowledged), leaving out dead queues, gathers' state queues and
// empty ones.
func (b *Broker) Pending() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, q := range b.queues {
		if q.counted() && len(q.ready) > 0 {
			out[q.name] += len(q.ready)
		}
	}
	for c := range b.conns {
		for ch := range c.chans {
			for _, u := range ch.unacked {
				if u.q.counted() {
					out[u.q.name]++
				}
			}
		}
	}
	return out
}

// Live returns the number of messages outside the dead queues and
// gathers' state queues: ready, delayed or unacknowledged.
func (b *Broker) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// Messages returns copies of the messages ready in queue, oldest first,
// without removing them (unacknowledged deliveries are not included).
func (b *Broker) Messages(queue string) ([]dge.Delivery, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("queue %q: %w", queue, dge.ErrNotFound)
	}
	out := make([]dge.Delivery, len(q.ready))
	for i, m := range q.ready {
		out[i] = m.delivery(0)
	}
	return out, nil
}

// Enqueued returns when each message ready in queue entered it, oldest
// first, in the order of Messages.
func (b *Broker) Enqueued(queue string) ([]time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("queue %q: %w", queue, dge.ErrNotFound)
	}
	out := make([]time.Time, len(q.ready))
	for i, m := range q.ready {
		out[i] = m.enqueued
	}
	return out, nil
}

// Queues returns the names of the broker's queues, sorted.
func (b *Broker) Queues() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.queues))
}

// addLive counts n messages entering (n > 0) or leaving (n < 0) non-dead
// queues, and wakes WaitIdle callers when none is left.
func (b *Broker) addLive(q *memQueue, n int) {
	if !q.counted() {
		return
	}
	b.live += n
	if b.live == 0 {
		for _, ch := range b.idle {
			close(ch)
		}
		b.idle = nil
	}
}

// enqueue appends m to q.
func (b *Broker) enqueue(q *memQueue, m *memMsg) {
	m.enqueued = time.Now()
	if q.ttl > 0 {
		m.expires = m.enqueued.Add(q.ttl)
	}
	q.ready = append(q.ready, m)
	b.addLive(q, 1)
	if q.dead {
		close(b.parked)
		b.parked = make(chan struct{})
	}
	if len(q.ready) == 1 {
		b.schedule(q)
	}
	q.cond.Broadcast()
}

// requeue puts returned messages back at the head of q, in order.
func (b *Broker) requeue(q *memQueue, ms []*memMsg) {
	if len(ms) == 0 {
		return
	}
	q.ready = append(slices.Clip(ms), q.ready...)
	b.schedule(q)
	q.cond.Broadcast()
}

// Deliver routes m through exchange with routing key key as a producer
// outside dge may publish it on RabbitMQ: without the checks a channel's
// Publish makes, so that a test can hand a node whatever AMQP can deliver
// (headers of any type or length). It fails when no queue is bound to key.
func (b *Broker) Deliver(exchange, key string, m dge.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	x, ok := b.exchanges[exchange]
	if !ok {
		return fmt.Errorf("deliver to exchange %s: %w", exchange, dge.ErrNotFound)
	}
	if b.route(x, key, m, nil) == 0 {
		return fmt.Errorf("deliver to %s with key %s: %w", exchange, key, dge.ErrReturned)
	}
	return nil
}

// route delivers m (already published through exchange x) to every queue
// bound to x with key for which skip (if not nil) is false, each getting
// its own copy; it returns the number of queues.
func (b *Broker) route(x *memExchange, key string, m dge.Message, skip func(*memQueue) bool) int {
	n := 0
	for _, q := range x.bindings[key] {
		if skip != nil && skip(q) {
			continue
		}
		b.enqueue(q, &memMsg{m: cloneMessage(m), exchange: x.name, key: key})
		n++
	}
	return n
}

// cloneMessage copies m's headers, dropping those a transport carries in
// Message fields or that the broker sets.
func cloneMessage(m dge.Message) dge.Message {
	h := make(map[string]any, len(m.Headers))
	for k, v := range m.Headers {
		switch k {
		case dge.HeaderRunID, dge.HeaderSource, dge.HeaderAttempt, "x-delivery-count":
			// Fields, as the AMQP transport delivers them, unless forged
			// with the wrong type: those stay headers, for admit to park.
			if !isInt(v) && (k == dge.HeaderAttempt || k == "x-delivery-count") {
				h[k] = v
			} else if _, ok := v.(string); !ok && (k == dge.HeaderRunID || k == dge.HeaderSource) {
				h[k] = v
			}
		case dge.HeaderTraceParent, dge.HeaderTraceState:
			// Fields, as the AMQP transport delivers them; a field set
			// wins over a header.
			if s, ok := v.(string); ok {
				setIfEmpty(&m, k, s)
			} else {
				h[k] = v
			}
		default:
			h[k] = v
		}
	}
	m.Headers = h
	m.Body = slices.Clone(m.Body)
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	m.Timestamp = time.Unix(ts.Unix(), 0) // AMQP timestamps are whole seconds
	return m
}

// setIfEmpty sets m's trace context field for header key to value unless
// it has one.
// isInt reports whether v is an integer of a type AMQP delivers.
func isInt(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint8, uint16, uint32:
		return true
	}
	return false
}

func setIfEmpty(m *dge.Message, key, value string) {
	f := &m.TraceParent
	if key == dge.HeaderTraceState {
		f = &m.TraceState
	}
	if *f == "" {
		*f = value
	}
}

// delivery returns m as delivered with tag.
func (m *memMsg) delivery(tag uint64) dge.Delivery {
	msg := m.m
	msg.Headers = maps.Clone(m.m.Headers)
	msg.Body = slices.Clone(m.m.Body)
	return dge.Delivery{
		Message:       msg,
		Tag:           tag,
		Redelivered:   m.redelivered,
		Deaths:        dge.DeathsFromHeader(msg.Headers["x-death"]),
		DeliveryCount: m.deliveries,
	}
}

// counted reports whether q's messages count as live (WaitIdle, Pending,
// Live): not those of parking queues nor of gathers' state queues.
func (q *memQueue) counted() bool { return !q.dead && !q.state }
