package runtime

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dgehq/dge/envelope"
)

// Checkpoints: the active gather instance publishes to Q.state one message
// carrying the new version of every split state changed since the last
// one. The items folded into those states are acknowledged once it is
// confirmed, and so are the older messages of Q.state that no longer hold
// a current version of any state. So an item is acknowledged only once a
// confirmed checkpoint holds it.

// markDirty queues st for the next checkpoint.
func (s *session) markDirty(st *splitState) {
	if !st.dirty {
		st.dirty = true
		s.gather.dirty = append(s.gather.dirty, st)
	}
}

// checkpoint publishes the states changed since the last checkpoint (and,
// past compactHeld held messages, the live states of the oldest ones) and
// hands the deliveries waiting for it to the acker. A publish that fails
// means the channel is gone: nothing is acknowledged, the broker
// redelivers.
func (s *session) checkpoint() {
	g := s.gather
	s.compact()
	if len(g.dirty) == 0 && len(g.pend) == 0 {
		return
	}
	body := envelope.Checkpoint{Epoch: g.epoch, Session: g.session, States: make([]envelope.SplitState, 0, len(g.dirty))}
	var moved []*splitState
	for _, st := range g.dirty {
		st.dirty = false
		if g.states[st.id] != st {
			continue // dropped since
		}
		st.ver = version{g.epoch, st.ver.seq + 1}
		j, err := encodeState(st)
		if err != nil {
			// An accumulator that cannot be encoded: the handler's
			// type; fail the session rather than ack what no checkpoint
			// holds.
			s.r.log.Error("checkpoint failed; closing the channel", "split_id", st.id, "error", err.Error())
			_ = s.ch.Close()
			return
		}
		body.States = append(body.States, j)
		moved = append(moved, st)
	}
	g.dirty = g.dirty[:0]
	raw, err := json.Marshal(body)
	if err != nil {
		s.r.log.Error("checkpoint failed; closing the channel", "error", err.Error())
		_ = s.ch.Close()
		return
	}
	g.next++
	id := g.session + "-" + strconv.FormatUint(g.next, 10)
	c, err := s.statePublish(stateCheckpoint, id, raw)
	if err != nil {
		s.r.log.Warn("checkpoint publish failed; its items will be redelivered", "error", err.Error())
		_ = s.ch.Close()
		return
	}
	g.lastCkp = time.Now()
	s.r.m.gatherCheckpoints.Add(1)
	m := &stateMsg{id: id, live: len(moved)}
	g.msgs[id] = m
	for _, st := range moved {
		old := st.msg
		st.msg = m
		s.unref(old, c)
	}
	s.ackPending(c)
}

// ackPending hands the deliveries waiting for checkpoint c to the acker.
func (s *session) ackPending(c Confirmation) {
	g := s.gather
	r := s.r
	confs := []Confirmation{c}
	ok := func() { r.m.acked.Add(1) }
	failed := func(err error, _ bool) {
		r.log.Warn("checkpoint not confirmed; closing the channel so that its items are redelivered", "error", err.Error())
		_ = s.ch.Close()
	}
	for _, p := range g.pend {
		it := ackItem{tag: p.tag, confs: confs, ok: ok, failed: failed}
		if p.extra != nil {
			it.confs = []Confirmation{p.extra, c}
		}
		s.acker.submit(it)
	}
	clear(g.pend)
	g.pend = g.pend[:0]
}

// compact queues for rewriting the live states of the oldest held
// messages of Q.state while more than compactHeld are held, so that they
// can be acknowledged once the next checkpoint is confirmed.
func (s *session) compact() {
	g := s.gather
	g.held = pruneHeld(g.held)
	over := len(g.held) - compactHeld
	if over <= 0 {
		return
	}
	old := map[*stateMsg]bool{}
	for _, m := range g.held {
		if len(old) >= over+compactHeld/4 {
			break
		}
		if !m.token {
			old[m] = true
		}
	}
	for _, st := range g.states {
		if old[st.msg] {
			s.markDirty(st)
		}
	}
}

// pruneHeld drops the released messages from held.
func pruneHeld(held []*stateMsg) []*stateMsg {
	out := held[:0]
	for _, m := range held {
		if m.tag != 0 {
			out = append(out, m)
		}
	}
	clear(held[len(out):])
	return out
}
