package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	dge "github.com/dgehq/dge/runtime"
)

// Dial opens a connection to the in-memory broker. The name is not used.
func (b *Broker) Dial(ctx context.Context, name string) (dge.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	c := &memConn{b: b, done: make(chan struct{}), chans: map[*memChannel]struct{}{}}
	b.conns[c] = struct{}{}
	return c, nil
}

// memConn is a connection to a Broker.
type memConn struct {
	b      *Broker
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

func (c *memConn) CheckQueue(ctx context.Context, name string) (int, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("check queue %q: %w", name, errConnClosed)
	}
	q := c.b.queues[name]
	if q == nil {
		return 0, fmt.Errorf("queue %q: %w", name, dge.ErrNotFound)
	}
	return len(q.ready), nil
}

func (c *memConn) CheckExchange(ctx context.Context, name string) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return fmt.Errorf("check exchange %q: %w", name, errConnClosed)
	}
	if c.b.exchanges[name] == nil {
		return fmt.Errorf("exchange %q: %w", name, dge.ErrNotFound)
	}
	return nil
}

var (
	errConnClosed    = errors.New("connection closed")
	errChannelClosed = errors.New("channel closed")
)

func (c *memConn) Channel(ctx context.Context, window int) (dge.Channel, error) {
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
	b      *Broker
	conn   *memConn
	window chan struct{} // publishes not yet resolved by Wait
	done   chan struct{}
	closed bool
	err    error // why the broker closed it, if it did

	consumers []*memConsumer // not cancelled
	lastTag   uint64
	unacked   map[uint64]memUnacked
}

// memUnacked is a delivery awaiting its acknowledgement.
type memUnacked struct {
	q   *memQueue
	m   *memMsg
	con *memConsumer // the consumer it was delivered to
}

// memConsumer is a channel's consumer of one queue; it is its own
// Deliveries stream.
type memConsumer struct {
	ch       *memChannel
	q        *memQueue
	prefetch int
	unacked  int // its deliveries not yet settled, cancelled or not
	stopped  bool
}

func (c *memChannel) Done() <-chan struct{} { return c.done }

func (c *memChannel) Close() error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.closeLocked()
	return nil
}

// closeLocked closes the channel: its consumers stop and every
// unacknowledged delivery returns to the head of its queue (or dead-letters
// past the delivery limit).
func (c *memChannel) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	delete(c.conn.chans, c)
	for _, con := range slices.Clone(c.consumers) {
		con.stopLocked()
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

func (c *memChannel) Consume(ctx context.Context, queue string, prefetch int) (dge.Consumer, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("consume queue %q: %w", queue, errChannelClosed)
	}
	q := c.b.queues[queue]
	if q == nil {
		return nil, c.fail(fmt.Errorf("consume queue %q: %w", queue, dge.ErrNotFound))
	}
	if prefetch < 0 {
		return nil, fmt.Errorf("consume queue %q: negative prefetch %d", queue, prefetch)
	}
	con := &memConsumer{ch: c, q: q, prefetch: prefetch}
	c.consumers = append(c.consumers, con)
	q.consumers = append(q.consumers, con)
	return con, nil
}

// stopLocked removes the consumer from its queue; its goroutine ends.
func (con *memConsumer) stopLocked() {
	if con.stopped {
		return
	}
	con.stopped = true
	con.ch.consumers = slices.DeleteFunc(con.ch.consumers, func(x *memConsumer) bool { return x == con })
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
	if con.prefetch > 0 && con.unacked >= con.prefetch {
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
func (con *memConsumer) Next() (dge.Delivery, bool) {
	b := con.ch.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for !con.stopped && !b.closed && !con.canTake() {
		con.q.cond.Wait()
	}
	if con.stopped || b.closed {
		return dge.Delivery{}, false
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
	ch.unacked[tag] = memUnacked{q: q, m: m, con: con}
	con.unacked++
	q.cond.Broadcast() // another caller may take the next message
	d := m.delivery(tag)
	if !q.quorum {
		d.DeliveryCount = 0 // classic queues report no delivery count
	}
	return d, true
}

// Cancel stops the consumer. The in-memory broker hands a message over
// only when Next takes it, so none is left to pass on.
func (con *memConsumer) Cancel() error {
	b := con.ch.b
	b.mu.Lock()
	defer b.mu.Unlock()
	con.stopLocked()
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
	var room []*memConsumer
	for _, t := range tags {
		u := c.unacked[t]
		delete(c.unacked, t)
		u.con.unacked--
		c.b.addLive(u.q, -1)
		if !slices.Contains(room, u.con) {
			room = append(room, u.con)
		}
	}
	for _, con := range room {
		c.roomLocked(con)
	}
	return nil
}

// roomLocked wakes a consumer after its unacknowledged count fell.
func (c *memChannel) roomLocked(con *memConsumer) {
	con.q.cond.Broadcast()
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
	u.con.unacked--
	c.b.deadLetter(u.q, u.m, "rejected")
	c.b.addLive(u.q, -1)
	c.roomLocked(u.con)
	return nil
}

func (c *memChannel) Publish(ctx context.Context, exchange, key string, m dge.Message) (dge.Confirmation, error) {
	// What AMQP cannot carry fails the publish, as on RabbitMQ with
	// frames of its default size.
	if err := dge.CheckPublishable(m, dge.DefaultFrameSize); err != nil {
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, err)
	}
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
		return nil, c.fail(fmt.Errorf("publish to %s with key %s: exchange %q: %w (NOT_FOUND; channel closed)", exchange, key, exchange, dge.ErrNotFound))
	}
	conf := &memConfirmation{c: c}
	if c.b.route(x, key, m, nil) == 0 {
		conf.err = fmt.Errorf("publish to %s with key %s: %w: 312 NO_ROUTE (no queue is bound to that key: run \"dge apply\")",
			exchange, key, dge.ErrReturned)
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
