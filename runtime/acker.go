package runtime

import (
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// ackItem is a delivery whose fate is decided: acknowledge it once confs
// are all confirmed and routed (then call ok), or reject it (a retry
// through Q.retry) when reject is set. When a confirmation fails, failed is
// called first, told whether the delivery is left to be redelivered (see
// leftToChannel) or rejected. A confirmation that failed because the
// broker returned its message as unroutable is counted (returned); when
// unroutable is set, the input in (at attempt) is then parked as
// unroutable instead of rejected (see parkUnroutable).
type ackItem struct {
	tag    uint64
	confs  []Confirmation
	reject bool
	ok     func()
	failed func(err error, redelivered bool)
	// unroutable says that in and attempt are set: the input, parked as
	// envelope.Unroutable should an output be returned. in is carried by
	// value, so that an item costs no allocation.
	unroutable bool
	in         Delivery
	attempt    int
	// shared is set on every item but one of those that wait for the same
	// confirmations (an aggregate's parts), so that a returned output is
	// counted once.
	shared bool
	at     time.Time // when it was submitted, when its confirm wait is measured
	// span, when set, traces the delivery: it ends once the delivery is
	// settled, with the confirmation's error if one failed.
	span trace.Span
}

type decision struct {
	ack  bool
	ok   func()
	span trace.Span
	// sent: acknowledged on its own already, behind a gap (see ackBehindGap).
	sent bool
	// tick is the acker's tick count when the decision was made.
	tick uint64
}

// aggregateAcksAlone makes an aggregate acknowledge every part on its own
// frame, as it did before its acker was eager. Only BenchmarkDiamond sets
// it, to measure what the eager acker gains.
var aggregateAcksAlone bool

// gapTick is how often an acker with decided deliveries waiting behind an
// undecided one acknowledges them one by one (see ackBehindGap). A delivery
// waits at least one full tick, so the ordinary gaps of concurrent workers
// finishing out of order close first and cost no extra frames.
const gapTick = 100 * time.Millisecond

// acker settles a channel's deliveries in the order workers hand them over.
// Workers never wait for their own confirms: they publish and submit, and
// the acker waits. Because the broker confirms in publish order, waiting in
// submission order costs nothing. Acks are sent with multiple=true for the
// longest prefix of delivery tags that are all decided, so one frame can
// settle many deliveries, and a delivery still in a handler is never
// acknowledged by accident. A delivery that stays undecided (a slow
// handler, or one abandoned because a publish failed) must not hold back
// the acks of every delivery after it: those would all come back as
// duplicates when the channel is lost. So deliveries decided behind a gap
// for a whole gapTick are acknowledged one by one (see ackBehindGap).
// Delivery tags belong to the acker's channel; a new channel gets a new
// acker.
type acker struct {
	s      *session
	single bool // ack each delivery on its own (gather: Q.state's held messages sit among the items)
	// eager: a delivery decided behind an undecided one is acknowledged on
	// its own in the same flush, not a gapTick later (aggregate: parts
	// wait out of order for as long as their groups are incomplete, which
	// is no reason to delay the acks of the groups that completed). The
	// decided prefix still goes in one multiple ack.
	eager     bool
	fresh     []uint64 // eager: the tags decided since the last flush
	items     chan ackItem
	done      chan struct{}
	closeOnce sync.Once
	// mu and closed guard items against the submits of parkUnroutable's
	// goroutines, which may come after the session's last worker.
	mu     sync.Mutex
	closed bool

	next    uint64 // lowest delivery tag not yet settled
	decided map[uint64]decision
	behind  int          // decided acks in decided not sent yet (all behind a gap after flush)
	ticks   uint64       // gapTick ticks so far
	oks     []func()     // flush's scratch space, reused
	spans   []trace.Span // the same
}

func newAcker(s *session) *acker {
	return &acker{
		s:       s,
		items:   make(chan ackItem, 1024),
		done:    make(chan struct{}),
		next:    1,
		decided: map[uint64]decision{},
	}
}

// submit hands a decided delivery to the acker. After close it drops the
// item: the delivery stays unsettled, and the broker redelivers it once
// the channel closes.
func (a *acker) submit(it ackItem) {
	if len(it.confs) > 0 && a.s.win != nil && a.s.win.adaptive {
		it.at = time.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.items <- it
}

// close tells the acker no more items come; done closes once every item is
// settled.
func (a *acker) close() {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		close(a.items)
		a.mu.Unlock()
	})
}

func (a *acker) run() {
	defer close(a.done)
	tick := time.NewTicker(gapTick)
	defer tick.Stop()
	for {
		var it ackItem
		var ok bool
		select {
		case it, ok = <-a.items:
		case <-tick.C:
			a.ticks++
			if a.behind > 0 {
				a.ackBehindGap()
			}
			continue
		}
		if !ok {
			a.finish()
			return
		}
		a.settle(it)
	batch:
		for {
			select {
			case it, ok := <-a.items:
				if !ok {
					a.finish()
					return
				}
				a.settle(it)
			default:
				break batch
			}
		}
		a.flush()
	}
}

func (a *acker) settle(it ackItem) {
	ctx := a.s.ctx
	var err, ret error
	for _, c := range it.confs {
		e := c.Wait(ctx)
		if e != nil && err == nil {
			err = e
		}
		if e != nil && returned(e) {
			if !it.shared {
				a.s.r.m.returned.Add(1)
			}
			if ret == nil {
				ret = e
			}
		}
	}
	if ctx.Err() != nil {
		return // channel lost or shutdown timeout: the broker redelivers
	}
	if !it.at.IsZero() {
		a.s.win.confirmed(time.Since(it.at))
	}
	if ret != nil && it.unroutable {
		// Retrying would publish to the same key: park the input. Its tag
		// stays undecided here; the park's own item settles it. On a
		// goroutine, since the park submits to this acker.
		go a.s.parkUnroutable(it.in, it.attempt, ret)
		return
	}
	if err != nil && leftToChannel(err) {
		// Not settled: the input comes back when the channel closes.
		if it.failed != nil {
			it.failed(err, true)
		}
		endSpan(it.span, err)
		return
	}
	if it.reject || err != nil {
		if err != nil && it.failed != nil {
			it.failed(err, false)
		}
		endSpan(it.span, err)
		if e := a.s.ch.Reject(it.tag); e != nil {
			a.s.r.log.Warn("reject failed; the message will be redelivered", "error", e.Error())
			return
		}
		if !a.single {
			a.decided[it.tag] = decision{}
		}
		return
	}
	if a.single {
		if e := a.s.ch.Ack(it.tag, false); e != nil {
			a.s.r.log.Warn("ack failed; the message will be redelivered", "error", e.Error())
			return
		}
		if it.ok != nil {
			it.ok()
		}
		endSpan(it.span, nil)
		return
	}
	a.decided[it.tag] = decision{ack: true, ok: it.ok, span: it.span, tick: a.ticks}
	a.behind++
	if a.eager {
		a.fresh = append(a.fresh, it.tag)
	}
}

// leftToChannel reports whether a delivery whose output's confirmation
// failed with err is left unsettled for the broker to redeliver, rather
// than rejected for a retry: the broker refused the output (ErrNacked, and
// the channel closes after a nack) or the channel closed before its
// confirm (ErrUnconfirmed). Either way the channel is gone, and its
// unacknowledged deliveries go back to the head of their queues, counted
// as redeliveries (x-delivery-count), not attempts. A reject would
// dead-letter the delivery through Q.retry instead: an attempt spent on
// the broker's fault, a retry delay, and a pass through the queue's
// dead-letter worker, which is restarting on a new leader exactly when
// nacks come (a node of the cluster died), and which RabbitMQ 3.10.8 can
// leave holding such messages for good.
func leftToChannel(err error) bool {
	return errors.Is(err, ErrNacked) || errors.Is(err, ErrUnconfirmed)
}

// failedFate completes the log line of a delivery whose confirmation
// failed: what (the delivery) will be redelivered, or otherwise.
func failedFate(redelivered bool, what, otherwise string) string {
	if redelivered {
		return what + " will be redelivered"
	}
	return otherwise
}

// flush acknowledges the longest run of decided tags from next in one
// frame, then, when eager, the tags decided since the last flush that are
// left behind a gap, one by one.
func (a *acker) flush() {
	a.flushPrefix()
	if a.eager {
		for _, tag := range a.fresh {
			if d, ok := a.decided[tag]; ok && d.ack && !d.sent && !a.ackAlone(tag, d) {
				break // the channel is gone: the broker redelivers the rest
			}
		}
		a.fresh = a.fresh[:0]
	}
}

// flushPrefix acknowledges the longest run of decided tags from next.
func (a *acker) flushPrefix() {
	var last uint64
	oks, spans := a.oks[:0], a.spans[:0]
	for {
		d, ok := a.decided[a.next]
		if !ok {
			break
		}
		delete(a.decided, a.next)
		if d.ack && !d.sent {
			a.behind--
			last = a.next
			if d.ok != nil {
				oks = append(oks, d.ok)
			}
			if d.span != nil {
				spans = append(spans, d.span)
			}
		}
		a.next++
	}
	if last == 0 {
		return
	}
	defer func() { clear(oks); a.oks = oks[:0]; clear(spans); a.spans = spans[:0] }() // keep no callback or span alive
	if err := a.s.ch.Ack(last, true); err != nil {
		a.s.r.log.Warn("ack failed; the messages will be redelivered", "error", err.Error())
		return
	}
	for _, f := range oks {
		f()
	}
	for _, s := range spans {
		s.End()
	}
}

// ackBehindGap acknowledges one by one the deliveries decided behind an
// undecided one at least a whole gapTick ago, and keeps them in decided,
// marked sent, so that the prefix passes over them later: a multiple ack
// must never name a tag that was acknowledged already (the broker would
// close the channel), and one naming a later tag covers them harmlessly.
func (a *acker) ackBehindGap() {
	for tag, d := range a.decided {
		if !d.ack || d.sent || a.ticks < d.tick+2 {
			continue
		}
		if !a.ackAlone(tag, d) {
			return
		}
	}
}

// ackAlone acknowledges the decided delivery tag on its own and keeps it
// in decided, marked sent. It reports whether the ack was sent.
func (a *acker) ackAlone(tag uint64, d decision) bool {
	if err := a.s.ch.Ack(tag, false); err != nil {
		a.s.r.log.Warn("ack failed; the message will be redelivered", "error", err.Error())
		return false
	}
	if d.ok != nil {
		d.ok()
	}
	endSpan(d.span, nil)
	a.decided[tag] = decision{ack: true, sent: true}
	a.behind--
	return true
}

// finish flushes, then acknowledges one by one the decided deliveries left
// behind a gap (a delivery abandoned at the shutdown timeout).
func (a *acker) finish() {
	a.flush()
	a.ticks += 2 // every decision is old enough now
	a.ackBehindGap()
	clear(a.decided)
}
