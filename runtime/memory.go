package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/topology"
)

// Memory is an in-memory broker holding one graph's topology, as dge apply
// creates it on RabbitMQ with quorum queues: the work, retry and (with poll
// nodes) poll exchanges, direct routing; for every node's edge queue Q the
// queues Q (dead-lettering to the retry exchange, with a delivery limit of
// the graph's largest MaxAttempts, and a single active consumer for
// aggregates), Q.retry (TTL the edge's retry delay, dead-lettering to the
// work exchange), Q.dead, and for poll nodes Q.poll (TTL the node's
// interval, dead-lettering to the work exchange); and their bindings.
//
// It implements Transport with the semantics the runtime relies on:
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
// A Memory is safe for concurrent use. Close stops its timers and closes
// every connection.
type Memory struct {
	mu        sync.Mutex
	closed    bool
	exchanges map[string]*memExchange
	queues    map[string]*memQueue
	conns     map[*memConn]struct{}
	live      int             // messages in non-dead queues: ready, delayed or unacknowledged
	idle      []chan struct{} // closed when live drops to 0
	dropped   int             // dead-lettered messages no queue took
	parked    chan struct{}   // closed and replaced when a dead queue receives a message
}

// MemoryOptions adjusts a Memory's topology for tests.
type MemoryOptions struct {
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
	name          string
	dead          bool   // a parking queue: its messages do not count as live
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
	m           Message // Headers owned by the broker
	exchange    string  // the exchange it was last published or dead-lettered through
	key         string  // its routing key
	deliveries  int     // times it was delivered and returned (x-delivery-count)
	redelivered bool
	expires     time.Time // with a ttl queue: when it dead-letters
	enqueued    time.Time
}

// NewMemory returns an in-memory broker holding graph g's topology: the
// objects package topology derives for it, as dge apply creates them.
func NewMemory(g Graph, opts MemoryOptions) *Memory {
	b := &Memory{
		exchanges: map[string]*memExchange{},
		queues:    map[string]*memQueue{},
		conns:     map[*memConn]struct{}{},
		parked:    make(chan struct{}),
	}
	spec := g.spec()
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
			name: q.Name, dead: q.Role == topology.RoleDead, dlx: q.DeadLetterExchange, ttl: ttl,
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

// Dial opens a connection to the in-memory broker. The name is not used.
func (b *Memory) Dial(ctx context.Context, name string) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errMemoryClosed
	}
	c := &memConn{b: b, done: make(chan struct{}), chans: map[*memChannel]struct{}{}}
	b.conns[c] = struct{}{}
	return c, nil
}

var errMemoryClosed = errors.New("in-memory broker closed")

// Close closes every connection (unacknowledged deliveries go back to their
// queues) and stops every timer; messages are kept but no longer expire.
// Dial fails afterwards.
func (b *Memory) Close() error {
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

// WaitIdle blocks until no message is left outside the dead queues: no
// ready, delayed (in Q.retry or Q.poll) or unacknowledged message anywhere
// else. It returns ctx's error if ctx ends first, and an error once the
// broker is closed.
func (b *Memory) WaitIdle(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errMemoryClosed
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
			return errMemoryClosed
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped returns the number of dead-lettered messages that no queue took:
// those RabbitMQ would drop too (see Memory).
func (b *Memory) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// parkedSignal returns a channel closed when a dead queue next receives a
// message.
func (b *Memory) parkedSignal() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.parked
}

// Pending returns, per queue, the messages in it (ready, delayed or
// unacknowledged), leaving out dead queues and empty ones.
func (b *Memory) Pending() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, q := range b.queues {
		if !q.dead && len(q.ready) > 0 {
			out[q.name] += len(q.ready)
		}
	}
	for c := range b.conns {
		for ch := range c.chans {
			for _, u := range ch.unacked {
				if !u.q.dead {
					out[u.q.name]++
				}
			}
		}
	}
	return out
}

// Live returns the number of messages outside the dead queues: ready,
// delayed or unacknowledged.
func (b *Memory) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// Messages returns copies of the messages ready in queue, oldest first,
// without removing them (unacknowledged deliveries are not included).
func (b *Memory) Messages(queue string) ([]Delivery, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("queue %q: %w", queue, ErrNotFound)
	}
	out := make([]Delivery, len(q.ready))
	for i, m := range q.ready {
		out[i] = m.delivery(0)
	}
	return out, nil
}

// Enqueued returns when each message ready in queue entered it, oldest
// first, in the order of Messages.
func (b *Memory) Enqueued(queue string) ([]time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("queue %q: %w", queue, ErrNotFound)
	}
	out := make([]time.Time, len(q.ready))
	for i, m := range q.ready {
		out[i] = m.enqueued
	}
	return out, nil
}

// Queues returns the names of the broker's queues, sorted.
func (b *Memory) Queues() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.queues))
}

// addLive counts n messages entering (n > 0) or leaving (n < 0) non-dead
// queues, and wakes WaitIdle callers when none is left.
func (b *Memory) addLive(q *memQueue, n int) {
	if q.dead {
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
func (b *Memory) enqueue(q *memQueue, m *memMsg) {
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
func (b *Memory) requeue(q *memQueue, ms []*memMsg) {
	if len(ms) == 0 {
		return
	}
	q.ready = append(slices.Clip(ms), q.ready...)
	b.schedule(q)
	q.cond.Broadcast()
}

// route delivers m (already published through exchange x) to every queue
// bound to x with key for which skip (if not nil) is false, each getting
// its own copy; it returns the number of queues.
func (b *Memory) route(x *memExchange, key string, m Message, skip func(*memQueue) bool) int {
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

// deadLetter dead-letters m from q for reason: it records the death in the
// x-death header as RabbitMQ does and routes the message through q's
// dead-letter exchange with its routing key. As on RabbitMQ, the message is
// dropped without a dead-letter exchange, with no queue bound to the key
// there, and for every queue that would close a dead-letter cycle without a
// rejection in it (see isDeadLetterCycle). The caller removes m from q and
// uncounts it.
func (b *Memory) deadLetter(q *memQueue, m *memMsg, reason string) {
	x := b.exchanges[q.dlx]
	if x == nil {
		b.dropped++
		return
	}
	msg := m.m
	msg.Headers = maps.Clone(msg.Headers)
	if msg.Headers == nil {
		msg.Headers = map[string]any{}
	}
	msg.Headers["x-death"] = addDeath(msg.Headers["x-death"], q.name, reason, m.exchange, m.key)
	for k, v := range map[string]string{"x-first-death-queue": q.name, "x-first-death-reason": reason, "x-first-death-exchange": m.exchange} {
		if _, ok := msg.Headers[k]; !ok {
			msg.Headers[k] = v
		}
	}
	deaths := msg.Headers["x-death"].([]any)
	var skip func(*memQueue) bool
	if reason != "rejected" {
		skip = func(target *memQueue) bool { return isDeadLetterCycle(target.name, deaths) }
	}
	if b.route(x, m.key, msg, skip) == 0 {
		b.dropped++
	}
}

// isDeadLetterCycle reports whether dead-lettering a message with the
// x-death list deaths (most recent first, the current death included) to
// queue closes a cycle with no rejection in it: RabbitMQ drops the message
// for that queue (rabbit_dead_letter:detect_cycles). A death with reason
// rejected anywhere from the front to queue's latest entry breaks the
// cycle. So on RabbitMQ a message dead-lettered from Q for delivery_limit
// reaches Q.retry but is dropped when it expires there, whereas a rejected
// one comes back to Q.
func isDeadLetterCycle(queue string, deaths []any) bool {
	for _, e := range deaths {
		t, _ := e.(amqp.Table)
		if t["reason"] == "rejected" {
			return false
		}
		if t["queue"] == queue {
			return true
		}
	}
	return false
}

// addDeath returns the x-death list with the death recorded: the entry for
// (queue, reason) moved to the front with its count raised, or a new entry
// with count 1 in front (RabbitMQ's rabbit_dead_letter:update_x_death_header).
func addDeath(v any, queue, reason, exchange, key string) []any {
	old, _ := v.([]any)
	out := make([]any, 0, len(old)+1)
	var entry amqp.Table
	for _, e := range old {
		t, ok := e.(amqp.Table)
		if ok && entry == nil && t["queue"] == queue && t["reason"] == reason {
			entry = maps.Clone(t)
			entry["count"] = int64(toInt(t["count"]) + 1)
			continue
		}
		out = append(out, e)
	}
	if entry == nil {
		entry = amqp.Table{
			"queue":        queue,
			"reason":       reason,
			"count":        int64(1),
			"exchange":     exchange,
			"routing-keys": []any{key},
			"time":         time.Unix(time.Now().Unix(), 0),
		}
	}
	return append([]any{entry}, out...)
}

// schedule arms q's expiry timer for its head message.
func (b *Memory) schedule(q *memQueue) {
	if q.ttl <= 0 || b.closed {
		return
	}
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if len(q.ready) == 0 {
		return
	}
	d := time.Until(q.ready[0].expires)
	q.timer = time.AfterFunc(max(d, 0), func() { b.expire(q) })
}

// expire dead-letters q's expired head messages, then re-arms its timer.
func (b *Memory) expire(q *memQueue) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	now := time.Now()
	for len(q.ready) > 0 && !q.ready[0].expires.After(now) {
		m := q.ready[0]
		q.ready[0] = nil
		q.ready = q.ready[1:]
		b.deadLetter(q, m, "expired")
		b.addLive(q, -1)
	}
	q.timer = nil
	b.schedule(q)
}

// cloneMessage copies m's headers, dropping those a transport carries in
// Message fields or that the broker sets.
func cloneMessage(m Message) Message {
	h := make(map[string]any, len(m.Headers))
	for k, v := range m.Headers {
		switch k {
		case HeaderRunID, HeaderSource, HeaderAttempt, "x-delivery-count":
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

// delivery returns m as delivered with tag.
func (m *memMsg) delivery(tag uint64) Delivery {
	msg := m.m
	msg.Headers = maps.Clone(m.m.Headers)
	msg.Body = slices.Clone(m.m.Body)
	return Delivery{
		Message:       msg,
		Tag:           tag,
		Redelivered:   m.redelivered,
		Deaths:        parseDeaths(msg.Headers["x-death"]),
		DeliveryCount: m.deliveries,
	}
}

// memConn is a connection to a Memory.
type memConn struct {
	b      *Memory
	done   chan struct{}
	closed bool
	chans  map[*memChannel]struct{}
}

func (c *memConn) Done() <-chan struct{} { return c.done }

func (c *memConn) Close() error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.closeLocked()
	return nil
}

func (c *memConn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	for ch := range c.chans {
		ch.closeLocked()
	}
	delete(c.b.conns, c)
	close(c.done)
}

func (c *memConn) CheckQueue(ctx context.Context, name string) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return fmt.Errorf("check queue %q: %w", name, errConnClosed)
	}
	if c.b.queues[name] == nil {
		return fmt.Errorf("queue %q: %w", name, ErrNotFound)
	}
	return nil
}

func (c *memConn) CheckExchange(ctx context.Context, name string) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return fmt.Errorf("check exchange %q: %w", name, errConnClosed)
	}
	if c.b.exchanges[name] == nil {
		return fmt.Errorf("exchange %q: %w", name, ErrNotFound)
	}
	return nil
}

var (
	errConnClosed    = errors.New("connection closed")
	errChannelClosed = errors.New("channel closed")
)

func (c *memConn) Channel(ctx context.Context, window int) (Channel, error) {
	if window < 1 {
		window = 1
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("open channel: %w", errConnClosed)
	}
	ch := &memChannel{
		b:       c.b,
		conn:    c,
		window:  make(chan struct{}, window),
		done:    make(chan struct{}),
		unacked: map[uint64]memUnacked{},
	}
	c.chans[ch] = struct{}{}
	return ch, nil
}

// memChannel is a channel of a memConn.
type memChannel struct {
	b      *Memory
	conn   *memConn
	window chan struct{} // publishes not yet resolved by Wait
	done   chan struct{}
	closed bool
	err    error // why the broker closed it, if it did

	consumer *memConsumer
	lastTag  uint64
	unacked  map[uint64]memUnacked
}

// memUnacked is a delivery awaiting its acknowledgement.
type memUnacked struct {
	q *memQueue
	m *memMsg
}

// memConsumer is a channel's consumer of one queue; it is its own
// Deliveries stream.
type memConsumer struct {
	ch       *memChannel
	q        *memQueue
	prefetch int
	stopped  bool
}

func (c *memChannel) Done() <-chan struct{} { return c.done }

func (c *memChannel) Close() error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.closeLocked()
	return nil
}

// closeLocked closes the channel: its consumer stops and every
// unacknowledged delivery returns to the head of its queue (or dead-letters
// past the delivery limit).
func (c *memChannel) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	delete(c.conn.chans, c)
	if c.consumer != nil {
		c.consumer.stopLocked()
	}
	tags := slices.Sorted(maps.Keys(c.unacked))
	back := map[*memQueue][]*memMsg{}
	var order []*memQueue
	for _, tag := range tags {
		u := c.unacked[tag]
		u.m.deliveries++
		u.m.redelivered = true
		if u.q.deliveryLimit > 0 && u.m.deliveries > u.q.deliveryLimit {
			c.b.deadLetter(u.q, u.m, "delivery_limit")
			c.b.addLive(u.q, -1)
			continue
		}
		if back[u.q] == nil {
			order = append(order, u.q)
		}
		back[u.q] = append(back[u.q], u.m)
	}
	clear(c.unacked)
	for _, q := range order {
		c.b.requeue(q, back[q])
	}
}

// fail closes the channel as the broker does on a channel error.
func (c *memChannel) fail(err error) error {
	c.err = err
	c.closeLocked()
	return err
}

func (c *memChannel) Consume(ctx context.Context, queue string, prefetch int) (Deliveries, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("consume queue %q: %w", queue, errChannelClosed)
	}
	if c.consumer != nil {
		return nil, fmt.Errorf("consume queue %q: the channel already has a consumer (of queue %q)", queue, c.consumer.q.name)
	}
	q := c.b.queues[queue]
	if q == nil {
		return nil, c.fail(fmt.Errorf("consume queue %q: %w", queue, ErrNotFound))
	}
	if prefetch < 0 {
		return nil, fmt.Errorf("consume queue %q: negative prefetch %d", queue, prefetch)
	}
	con := &memConsumer{ch: c, q: q, prefetch: prefetch}
	c.consumer = con
	q.consumers = append(q.consumers, con)
	return con, nil
}

// stopLocked removes the consumer from its queue; its goroutine ends.
func (con *memConsumer) stopLocked() {
	if con.stopped {
		return
	}
	con.stopped = true
	q := con.q
	q.consumers = slices.DeleteFunc(q.consumers, func(x *memConsumer) bool { return x == con })
	q.cond.Broadcast()
}

// canTake reports whether the consumer may receive q's head message now.
func (con *memConsumer) canTake() bool {
	q := con.q
	if len(q.ready) == 0 {
		return false
	}
	if con.prefetch > 0 && len(con.ch.unacked) >= con.prefetch {
		return false
	}
	if q.singleActive && (len(q.consumers) == 0 || q.consumers[0] != con) {
		return false
	}
	return true
}

// Next takes the queue's head message when the consumer may receive it,
// making it an unacknowledged delivery of the channel. It returns false once
// the consumer is cancelled or its channel closed.
func (con *memConsumer) Next() (Delivery, bool) {
	b := con.ch.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for !con.stopped && !b.closed && !con.canTake() {
		con.q.cond.Wait()
	}
	if con.stopped || b.closed {
		return Delivery{}, false
	}
	q := con.q
	m := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	if q.ttl > 0 {
		b.schedule(q)
	}
	ch := con.ch
	ch.lastTag++
	tag := ch.lastTag
	ch.unacked[tag] = memUnacked{q: q, m: m}
	q.cond.Broadcast() // another caller may take the next message
	d := m.delivery(tag)
	if !q.quorum {
		d.DeliveryCount = 0 // classic queues report no delivery count
	}
	return d, true
}

func (c *memChannel) Cancel() error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.consumer != nil {
		c.consumer.stopLocked()
	}
	return nil
}

func (c *memChannel) Ack(tag uint64, multiple bool) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return fmt.Errorf("ack %d: %w", tag, errChannelClosed)
	}
	var tags []uint64
	if multiple {
		for t := range c.unacked {
			if t <= tag || tag == 0 {
				tags = append(tags, t)
			}
		}
	} else if _, ok := c.unacked[tag]; ok {
		tags = []uint64{tag}
	}
	if len(tags) == 0 && !(multiple && tag == 0) {
		return c.fail(fmt.Errorf("ack: unknown delivery tag %d (PRECONDITION_FAILED; channel closed)", tag))
	}
	for _, t := range tags {
		u := c.unacked[t]
		delete(c.unacked, t)
		c.b.addLive(u.q, -1)
	}
	c.roomLocked()
	return nil
}

// roomLocked wakes the channel's consumer after its unacknowledged count fell.
func (c *memChannel) roomLocked() {
	if c.consumer != nil {
		c.consumer.q.cond.Broadcast()
	}
}

func (c *memChannel) Reject(tag uint64) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return fmt.Errorf("reject %d: %w", tag, errChannelClosed)
	}
	u, ok := c.unacked[tag]
	if !ok {
		return c.fail(fmt.Errorf("reject: unknown delivery tag %d (PRECONDITION_FAILED; channel closed)", tag))
	}
	delete(c.unacked, tag)
	c.b.deadLetter(u.q, u.m, "rejected")
	c.b.addLive(u.q, -1)
	c.roomLocked()
	return nil
}

func (c *memChannel) Publish(ctx context.Context, exchange, key string, m Message) (Confirmation, error) {
	select {
	case c.window <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, errChannelClosed)
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		<-c.window
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, errChannelClosed)
	}
	x := c.b.exchanges[exchange]
	if x == nil {
		<-c.window
		return nil, c.fail(fmt.Errorf("publish to %s with key %s: exchange %q: %w (NOT_FOUND; channel closed)", exchange, key, exchange, ErrNotFound))
	}
	conf := &memConfirmation{c: c}
	if c.b.route(x, key, m, nil) == 0 {
		conf.err = fmt.Errorf("publish to %s with key %s: %w: 312 NO_ROUTE (no queue is bound to that key: run \"dge apply\")",
			exchange, key, ErrReturned)
	}
	return conf, nil
}

// memConfirmation is resolved when created: the in-memory broker routes
// and stores a message synchronously.
type memConfirmation struct {
	c    *memChannel
	err  error
	once sync.Once
}

func (f *memConfirmation) Wait(ctx context.Context) error {
	f.once.Do(func() { <-f.c.window })
	return f.err
}
