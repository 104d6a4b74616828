package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQP is the Transport for RabbitMQ over AMQP 0-9-1.
type AMQP struct {
	// URL is the broker's URL with the vhost as its path,
	// amqp://user:password@host:port/vhost, or several such URLs separated
	// by commas: the nodes of one cluster (see Endpoints).
	URL string
	// Vhost is the vhost of a URL without a path (default "/").
	Vhost string

	// eps is URL parsed, when the caller already did.
	eps *Endpoints
	// onBlocked, when set, hears the broker block and unblock publishing
	// on a connection (a resource alarm).
	onBlocked func(b amqp.Blocking)
}

// endpoints returns a.URL parsed.
func (a AMQP) endpoints() (*Endpoints, error) {
	if a.eps != nil {
		return a.eps, nil
	}
	v := a.Vhost
	if v == "" {
		v = "/"
	}
	return ParseEndpoints(a.URL, v, "the AMQP URL")
}

// Dial opens a connection named name to one of the URL's endpoints, trying
// them in random order, each once, until one accepts. An error wraps
// ErrConfig when the URL is invalid and ErrRefused when the broker refused
// the login or the vhost.
func (a AMQP) Dial(ctx context.Context, name string) (Conn, error) {
	return a.dialRound(ctx, name, "")
}

// dialRound is Dial without the endpoint whose URL is skip.
func (a AMQP) dialRound(ctx context.Context, name, skip string) (Conn, error) {
	eps, err := a.endpoints()
	if err != nil {
		return nil, err
	}
	round := eps.Round(skip)
	if len(round) == 0 {
		return nil, errors.New("no other broker URL to try")
	}
	timeout := 30 * time.Second
	if len(round) > 1 {
		timeout = 15 * time.Second // leave time for the others
	}
	var msgs []string
	for _, ep := range round {
		c, err := a.dialOne(ctx, name, ep, timeout)
		if err == nil {
			return c, nil
		}
		if len(round) == 1 || errors.Is(err, ErrRefused) || ctx.Err() != nil {
			// A cluster's nodes share their users and vhosts: a refusal
			// from one is a refusal from all.
			return nil, err
		}
		msgs = append(msgs, err.Error())
	}
	return nil, fmt.Errorf("none of the %d broker URLs accepted a connection: %s", len(round), strings.Join(msgs, "; "))
}

// dialOne connects to one endpoint.
func (a AMQP) dialOne(ctx context.Context, name string, ep Endpoint, timeout time.Duration) (*amqpConn, error) {
	cfg := amqp.Config{
		Properties: amqp.Table{"connection_name": name},
		Heartbeat:  10 * time.Second,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// A deadline for the TLS and AMQP handshakes, which amqp091
			// clears once the connection is open.
			if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	c, err := amqp.DialConfig(ep.URL, cfg)
	if err != nil {
		return nil, dialError(err, ep)
	}
	ac := &amqpConn{c: c, ep: ep, done: make(chan struct{})}
	closed := c.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if e := <-closed; e != nil {
			ac.err.Store(e)
		}
		close(ac.done)
	}()
	// amqp091 drops a notification that waits 5 s: read them at once.
	blocked := c.NotifyBlocked(make(chan amqp.Blocking, 4))
	go func() {
		for b := range blocked {
			if a.onBlocked != nil {
				a.onBlocked(b)
			}
		}
	}()
	return ac, nil
}

// redial opens a connection through tr after lost (nil when there is none):
// with several endpoints, it tries every endpoint but lost's, at once.
func redial(ctx context.Context, tr Transport, name string, lost Conn) (Conn, error) {
	if a, ok := tr.(AMQP); ok && lost != nil {
		if lc, ok := lost.(*amqpConn); ok {
			return a.dialRound(ctx, name, lc.ep.URL)
		}
	}
	return tr.Dial(ctx, name)
}

// hasOtherEndpoints reports whether tr can reach the broker through an
// endpoint other than conn's.
func hasOtherEndpoints(tr Transport, conn Conn) bool {
	a, ok := tr.(AMQP)
	if !ok {
		return false
	}
	eps, err := a.endpoints()
	_, isAMQP := conn.(*amqpConn)
	return err == nil && isAMQP && eps.Len() > 1
}

// endpointName returns the redacted URL conn is connected to, or "".
func endpointName(conn Conn) string {
	if c, ok := conn.(*amqpConn); ok {
		return c.ep.Name
	}
	return ""
}

type amqpConn struct {
	c    *amqp.Connection
	ep   Endpoint
	done chan struct{}
	err  atomic.Value
}

func (c *amqpConn) Done() <-chan struct{} { return c.done }

func (c *amqpConn) Close() error {
	if c.c.IsClosed() {
		return nil
	}
	return c.c.Close()
}

func (c *amqpConn) CheckQueue(ctx context.Context, name string) (int, error) {
	ch, err := c.c.Channel()
	if err != nil {
		return 0, fmt.Errorf("open channel: %w", err)
	}
	defer closeQuietly(ch)
	q, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
	if err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return 0, fmt.Errorf("queue %q: %w", name, ErrNotFound)
		}
		return 0, fmt.Errorf("check queue %q: %w", name, err)
	}
	return q.Messages, nil
}

func (c *amqpConn) CheckExchange(ctx context.Context, name string) error {
	ch, err := c.c.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer closeQuietly(ch)
	if err := ch.ExchangeDeclarePassive(name, "direct", true, false, false, false, nil); err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return fmt.Errorf("exchange %q: %w", name, ErrNotFound)
		}
		return fmt.Errorf("check exchange %q: %w", name, err)
	}
	return nil
}

func closeQuietly(ch *amqp.Channel) {
	if !ch.IsClosed() {
		_ = ch.Close()
	}
}

func (c *amqpConn) Channel(ctx context.Context, window int) (Channel, error) {
	if window < 1 {
		window = 1
	}
	ch, err := c.c.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		closeQuietly(ch)
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	ac := &amqpChannel{
		ch:         ch,
		maxHeaders: maxHeadersIn(c.c.Config.FrameSize),
		window:     make(chan struct{}, window),
		returns:    ch.NotifyReturn(make(chan amqp.Return, window)),
		returned:   map[returnKey][]amqp.Return{},
		done:       make(chan struct{}),
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		<-closed
		close(ac.done)
	}()
	return ac, nil
}

// amqpChannel wraps an amqp.Channel in confirm mode.
//
// A mandatory publish that no queue accepts comes back as a basic.return
// followed by a basic.ack of the same publish. amqp091 pushes the return
// into the NotifyReturn channel from its reader goroutine before it handles
// the ack, so once a confirmation has resolved, its return (if any) is
// already in that channel. Confirmation.Wait drains the channel without
// blocking into a multiset keyed by routing key and message ID, and takes
// one entry for its publish if there is one. Two publishes with the same key
// and message ID (duplicates of one message) share their fate, so counting
// is enough; no per-publish header is needed. The return channel's buffer equals the window of
// unconfirmed publishes, so the reader can never block on it (amqp091 drops
// a notification that blocks for 5 s).
type amqpChannel struct {
	ch *amqp.Channel
	// maxHeaders bounds a publish's encoded headers so that its content
	// header fits one frame of the connection (see checkPublish).
	maxHeaders int
	window     chan struct{} // semaphore: publishes not yet resolved by Wait
	done       chan struct{}

	// rpc keeps channel RPCs (basic.qos, basic.consume, basic.cancel,
	// channel.close) from running while a publish is being written: amqp091
	// writes a publish's method, header and body frames under the channel's
	// lock, but sends RPCs without it, so a basic.cancel could land between
	// a publish's frames and the broker would close the connection with 505
	// UNEXPECTED_FRAME. Publishes take it shared, RPCs exclusively.
	rpc sync.RWMutex

	mu       sync.Mutex
	returns  <-chan amqp.Return
	returned map[returnKey][]amqp.Return

	nacked sync.Once // closes the channel after its first nack
}

// refused handles a publish the broker nacked: it closes the channel, so
// that its user opens another. RabbitMQ 3.10 binds a channel's publishes to
// a quorum queue to the member the queue's record named when the channel
// first published to it; when that member's node is down (it was just
// lost), it nacks the channel's publishes to that queue for as long as the
// channel lives (measured: over 50 s after a node was killed, until every
// input had run out of attempts). A new channel reads the queue's current
// leader.
func (c *amqpChannel) refused() {
	c.nacked.Do(func() { go func() { _ = c.Close() }() })
}

type returnKey struct{ exchange, key, messageID string }

func (c *amqpChannel) Done() <-chan struct{} { return c.done }

func (c *amqpChannel) Close() error {
	if c.ch.IsClosed() {
		return nil
	}
	c.rpc.Lock()
	defer c.rpc.Unlock()
	return c.ch.Close()
}

var consumerSeq atomic.Uint64

func (c *amqpChannel) Consume(ctx context.Context, queue string, prefetch int) (Consumer, error) {
	tag := "dge-" + queue + "-" + strconv.FormatUint(consumerSeq.Add(1), 10)
	// basic.qos (per consumer: global=false) applies to the consumers the
	// channel starts after it, so a new consumer can have a new prefetch
	// while an older one keeps its own. Both RPCs may come while the
	// channel publishes (a session changing its window): see rpc.
	c.rpc.Lock()
	defer c.rpc.Unlock()
	if err := c.ch.Qos(prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch %d on queue %q: %w", prefetch, queue, err)
	}
	// The consumer is not tied to ctx: amqp091 would cancel it from a
	// goroutine of its own when ctx ends, and that basic.cancel can race the
	// channel's Close (two RPCs at once on one channel), leaving Close
	// waiting forever. Callers stop consumers with Cancel or Close.
	in, err := c.ch.ConsumeWithContext(context.WithoutCancel(ctx), queue, tag, false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume queue %q: %w", queue, err)
	}
	return &amqpConsumer{c: c, tag: tag, in: in}, nil
}

// amqpConsumer converts deliveries as they are taken, without a goroutine
// of its own: a hand-off between goroutines per message costs more than the
// conversion.
type amqpConsumer struct {
	c   *amqpChannel
	tag string
	in  <-chan amqp.Delivery
}

func (con *amqpConsumer) Next() (Delivery, bool) {
	d, ok := <-con.in
	if !ok {
		return Delivery{}, false
	}
	return fromAMQP(d), true
}

// Cancel sends basic.cancel; amqp091 passes on what the broker delivered
// before its cancel-ok, then closes the stream.
func (con *amqpConsumer) Cancel() error {
	c := con.c
	c.rpc.Lock()
	err := c.ch.Cancel(con.tag, false)
	c.rpc.Unlock()
	if err != nil {
		return fmt.Errorf("cancel consumer %s: %w", con.tag, err)
	}
	return nil
}

func (c *amqpChannel) Ack(tag uint64, multiple bool) error { return c.ch.Ack(tag, multiple) }

func (c *amqpChannel) Reject(tag uint64) error { return c.ch.Reject(tag, false) }

func (c *amqpChannel) Publish(ctx context.Context, exchange, key string, m Message) (Confirmation, error) {
	p := toAMQP(m)
	if err := checkPublish(p, c.maxHeaders); err != nil {
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, err)
	}
	select {
	case c.window <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, amqp.ErrClosed)
	}
	c.rpc.RLock()
	dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, p)
	c.rpc.RUnlock()
	if err != nil {
		<-c.window
		return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, err)
	}
	return &amqpConfirmation{c: c, dc: dc, id: returnKey{exchange, key, m.MessageID}}, nil
}

type amqpConfirmation struct {
	c    *amqpChannel
	dc   *amqp.DeferredConfirmation
	id   returnKey
	once sync.Once
	err  error
}

func (f *amqpConfirmation) Wait(ctx context.Context) error {
	select {
	case <-f.dc.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	f.once.Do(func() {
		defer func() { <-f.c.window }()
		if !f.dc.Acked() {
			// amqp091 resolves a confirmation as not acked in two cases:
			// the broker nacked the publish, or the channel closed before
			// its confirm came (the message may well be queued). It marks
			// the channel closed before it resolves the pending ones, so a
			// channel still open means a nack. (A nack followed at once by
			// the channel's loss reads as lost, which is handled the same:
			// the input is retried, and the channel is gone anyway.) No
			// confirm listener is needed, which would cost a timer and a
			// hand-off per confirm.
			if f.c.ch.IsClosed() {
				f.err = fmt.Errorf("publish to %s with key %s: %w", f.id.exchange, f.id.key, ErrUnconfirmed)
				return
			}
			f.err = fmt.Errorf("publish to %s with key %s: %w", f.id.exchange, f.id.key, ErrNacked)
			f.c.refused()
			return
		}
		if r, ok := f.c.takeReturn(f.id); ok {
			f.err = fmt.Errorf("publish to %s with key %s: %w: %d %s (no queue is bound to that key: run \"dge apply\")",
				f.id.exchange, f.id.key, ErrReturned, r.ReplyCode, r.ReplyText)
		}
	})
	return f.err
}

// takeReturn drains the return channel and reports whether a publish with
// the given key was returned, consuming that return.
func (c *amqpChannel) takeReturn(id returnKey) (amqp.Return, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		select {
		case r, ok := <-c.returns:
			if ok {
				k := returnKey{r.Exchange, r.RoutingKey, r.MessageId}
				c.returned[k] = append(c.returned[k], r)
				continue
			}
		default:
		}
		break
	}
	if len(c.returned) == 0 {
		return amqp.Return{}, false // the usual case: nothing was returned
	}
	rs := c.returned[id]
	if len(rs) == 0 {
		return amqp.Return{}, false
	}
	if len(rs) == 1 {
		delete(c.returned, id)
	} else {
		c.returned[id] = rs[1:]
	}
	return rs[0], true
}

// maxHeadersIn returns how many bytes of headers a publish may carry on a
// connection with frames of frameSize bytes (0 or less: unlimited): its
// content header frame holds them beside the other properties, up to 9
// short strings and a few fixed fields.
func maxHeadersIn(frameSize int) int {
	if frameSize <= 0 {
		return 1 << 30
	}
	return frameSize - 4096
}

// blockedNotice returns the onBlocked callback of a program: it logs when
// the broker starts blocking publishers (a resource alarm: memory or disk)
// and when it stops, and sets the connection-blocked gauge of m (nil: none).
func blockedNotice(log *slog.Logger, m *metrics) func(amqp.Blocking) {
	return func(b amqp.Blocking) {
		if m != nil {
			m.setBlocked(b.Active)
		}
		if b.Active {
			log.Warn("the broker blocks publishing on this connection (a resource alarm): publishes, and the acks that wait for their confirms, stall until it clears",
				"reason", b.Reason)
			return
		}
		log.Info("the broker unblocked publishing on this connection")
	}
}
