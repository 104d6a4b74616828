package runtime

import (
	"context"
	"sync"
	"time"
)

// A gather node's session (see the package doc, Split and gather): elect
// the active instance and read its state (gather_leader.go), then take in
// items (gather_item.go), write checkpoints (gather_checkpoint.go) and
// complete, fail or time out splits (gather_split.go).

// gather is the state of an active gather instance's session. Only the
// session's gather loop touches it.
type gather struct {
	session string // this session's unique ID: its markers' and checkpoints' IDs start with it
	epoch   uint64
	states  map[string]*splitState // open splits by split ID
	msgs    map[string]*stateMsg   // held messages of Q.state with live states, by message ID
	held    []*stateMsg            // the same (and the token), oldest first, lazily pruned
	pend    []pendAck              // deliveries to ack once the next checkpoint is confirmed
	dirty   []*splitState          // states changed since the last checkpoint
	events  chan func()            // run by the gather loop: outcomes of publishes
	firing  sync.WaitGroup         // outputs awaiting their confirms
	next    uint64                 // checkpoints published
	// claimed is set when the park path claimed a notice (see
	// gatherClaimNotice): admit parked the delivery being admitted.
	claimed bool
	lastCkp time.Time
}

// pendAck is a delivery to acknowledge once the checkpoint that holds what
// it brought is confirmed (and extra, when set).
type pendAck struct {
	tag   uint64
	extra Confirmation
}

// The checkpoint cadence: a checkpoint every checkpointEvery while
// anything changed, at once when a split completes, and whenever the items
// taken in since the last one reach checkpointItems or half the prefetch
// window (the items wait in the window for it). compactHeld is the number
// of held messages of Q.state past which a checkpoint also rewrites the
// live states of the oldest ones, so that they can be acknowledged.
const (
	checkpointEvery = 100 * time.Millisecond
	checkpointItems = 1000
	compactHeld     = 200
)

// gatherSession runs one session of a gather node (see session): on its
// channel it waits to become the active instance, reads the state, then
// consumes Q until ctx is cancelled (a graceful stop: a last checkpoint,
// the acknowledgements, then the channel is closed and a standby takes
// over) or the channel is lost.
func (r *nodeRun) gatherSession(ctx context.Context, conn Conn) error {
	ch, err := conn.Channel(ctx, r.publishWindow()+gatherStatePrefetch)
	if err != nil {
		return err
	}
	defer ch.Close()
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	go func() {
		select {
		case <-ch.Done():
			hcancel()
		case <-hctx.Done():
		}
	}()
	stateCons, err := ch.Consume(ctx, stateQueue(r.n.in.Queue), gatherStatePrefetch)
	if err != nil {
		return err
	}
	// A standby waiting to become the active instance is ready: it takes
	// over when the active one goes.
	r.e.ready.setConsuming(r, true)
	defer r.e.ready.setConsuming(r, false)
	s := &session{r: r, ch: ch, ctx: hctx}
	s.gather = &gather{
		session: newRunID(), states: map[string]*splitState{}, msgs: map[string]*stateMsg{},
		events: make(chan func(), 64),
	}
	s.acker = newAcker(s)
	s.acker.single = true // the held messages of Q.state sit among the items' tags
	s.claimNotice = s.gatherClaimNotice
	go s.acker.run()
	defer func() { s.acker.close(); <-s.acker.done }()

	states := deliveryChan(stateCons)
	first, ok, err := s.awaitActive(ctx, states)
	if !ok {
		return err
	}
	if ok, err := s.load(ctx, first, states); !ok {
		if err == nil && ctx.Err() == nil {
			err = errChannelLost
		}
		return err
	}
	win, err := openWindow(ctx, ch, r.n.in.Queue, r.prefetch, r.concurrency, r.adaptive, r.m, r.log)
	if err != nil {
		return err
	}
	s.win = win
	go win.run(ctx)
	r.log.Info("consuming", "prefetch", r.prefetch, "window", r.windowMode())
	return s.gatherLoop(ctx, deliveryChan(win), states)
}

// gatherLoop takes in items and the deliveries of Q.state, writes
// checkpoints and sweeps timed-out splits until the consumer ends.
func (s *session) gatherLoop(ctx context.Context, items, states <-chan Delivery) error {
	g := s.gather
	for _, st := range g.states {
		s.r.m.gatherOpen(1, st.count-st.have)
		if st.complete() {
			s.fire(st)
		}
	}
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	stop := ctx.Done()
	for {
		select {
		case d, ok := <-items:
			if !ok {
				return s.gatherStop(stop == nil)
			}
			s.gatherItem(d)
		case d, ok := <-states:
			if !ok {
				states = nil
				continue
			}
			s.stateDelivery(d)
		case f := <-g.events:
			f()
		case now := <-tick.C:
			s.sweep(now)
			s.checkpoint()
		case <-stop:
			stop = nil
			if err := s.win.cancel(); err != nil {
				s.r.log.Warn("cancel consumer", "error", err.Error())
			}
		case <-s.ch.Done():
			return errChannelLost
		}
		if len(g.pend) >= s.checkpointAt() {
			s.checkpoint()
		}
	}
}

// checkpointAt returns the number of items taken in since the last
// checkpoint at which the next is written at once.
func (s *session) checkpointAt() int {
	w := int(s.r.m.window.Load())
	return max(1, min(checkpointItems, w/2))
}

// gatherStop ends a session once its consumer of Q ended: on a graceful
// stop (graceful), it writes a last checkpoint and waits, within the
// shutdown timeout, for the outputs in flight and the acknowledgements;
// the channel then closes and its held messages of Q.state go to the next
// instance. Otherwise the broker cancelled the consumer.
func (s *session) gatherStop(graceful bool) error {
	if !graceful {
		return errConsumerCancelled
	}
	r := s.r
	timer := time.NewTimer(r.e.shutdownTimeout)
	defer timer.Stop()
	fired := make(chan struct{})
	go func() { s.gather.firing.Wait(); close(fired) }()
	for done := false; !done; {
		select {
		case f := <-s.gather.events:
			f()
		case <-fired:
			done = true
		case <-timer.C:
			r.log.Warn("shutdown timeout passed waiting for outputs; they will be published again by the next instance")
			return nil
		case <-s.ch.Done():
			return nil
		}
	}
	s.checkpoint()
	s.acker.close()
	select {
	case <-s.acker.done:
		r.log.Info("stopped cleanly")
	case <-timer.C:
		r.log.Warn("shutdown timeout passed waiting for confirms; unacknowledged messages will be redelivered")
	case <-s.ch.Done():
	}
	return nil
}

// stateDelivery takes in a delivery of Q.state while active: one of its
// own checkpoints coming back (held while it holds a live state), or a
// hello marker of an instance that started since (acknowledged).
func (s *session) stateDelivery(d Delivery) {
	g := s.gather
	if m := g.msgs[d.MessageID]; m != nil && m.tag == 0 {
		m.tag = d.Tag
		m.seen = time.Now()
		if m.live == 0 {
			s.release(m)
			return
		}
		g.held = append(g.held, m)
		return
	}
	if stateKind(d) != stateHello {
		s.r.log.Warn("unexpected message in the state queue acknowledged", "message_id", d.MessageID, "state", stateKind(d))
	}
	s.acker.submit(ackItem{tag: d.Tag})
}

// release acknowledges a held message of Q.state that holds no live state
// any more, once the publish that superseded it is confirmed.
func (s *session) release(m *stateMsg) {
	delete(s.gather.msgs, m.id)
	if m.tag == 0 {
		return // not delivered yet: stateDelivery does it
	}
	it := ackItem{tag: m.tag}
	if m.after != nil {
		it.confs = []Confirmation{m.after}
	}
	m.tag = 0
	s.acker.submit(it)
}

// unref moves a state out of message m (after: the publish that did so).
func (s *session) unref(m *stateMsg, after Confirmation) {
	if m == nil {
		return
	}
	m.live--
	if after != nil {
		m.after = after
	}
	if m.live == 0 {
		if m.tag == 0 {
			return // acknowledged on delivery (stateDelivery)
		}
		s.release(m)
	}
}
