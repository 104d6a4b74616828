package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
	"github.com/dgehq/dge/topology"
)

// Which instance of a gather folds, and what it starts from. A gather's
// state queue Q.state has a single active consumer; every instance consumes
// it on the one channel it also consumes Q on, so that when that channel
// dies both consumers die with it. The broker never tells a consumer it
// became the active one, so each instance publishes a hello marker to
// Q.state: the first delivery an instance receives from Q.state makes it
// the active one (standbys receive none). The active instance always holds
// one message of Q.state unacknowledged, its token, so that Q.state is
// never empty while it runs: when it dies, its token goes back to the
// queue and makes the next instance in line active.
//
// Once active, an instance publishes a sync marker and reads Q.state until
// that marker comes back: it then holds every message that was in the
// queue, including everything its predecessor held (returned when the
// predecessor's channel died, which is also what made this instance
// active). Of each split's versions it keeps the highest (see version).
// Only then does it publish its token (a checkpoint of no states carrying
// its epoch, above every epoch it read), acknowledge what it does not
// need, and consume Q.

// HeaderState marks a message of a gather's state queue Q.state (see
// package envelope): a checkpoint, or a marker of the election.
const HeaderState = envelope.HeaderState

// The values of the x-dge-state header.
const (
	stateHello      = envelope.StateHello
	stateSync       = envelope.StateSync
	stateCheckpoint = envelope.StateCheckpoint
)

// stateQueue returns the state queue of a gather's edge queue q.
func stateQueue(q string) string { return q + topology.SuffixState }

// gatherStatePrefetch is the prefetch of a gather's consumer of Q.state,
// the most a quorum queue allows: the reading after a take-over must
// never stall (compaction keeps the held messages far below it).
const gatherStatePrefetch = 2000

// statePublish publishes a message of Q.state with header x-dge-state
// kind, ID id and body.
func (s *session) statePublish(kind, id string, body []byte) (Confirmation, error) {
	r := s.r
	m := Message{Body: body, MessageID: id, Source: r.addr, Headers: map[string]any{HeaderState: kind}}
	return s.ch.Publish(s.ctx, r.e.g.WorkExchange, stateQueue(r.n.in.Queue), m)
}

// stateKind returns the x-dge-state header of a delivery ("" for none).
func stateKind(d Delivery) string {
	k, _ := d.Headers[HeaderState].(string)
	return k
}

// awaitActive publishes this instance's hello marker and waits for the
// first delivery of Q.state. ok is false when ctx ended first (a graceful
// stop of a standby) or the channel was lost (err says so).
func (s *session) awaitActive(ctx context.Context, states <-chan Delivery) (first Delivery, ok bool, err error) {
	c, err := s.statePublish(stateHello, s.gather.session+"-hello", nil)
	if err == nil {
		err = c.Wait(s.ctx)
	}
	if err != nil {
		return Delivery{}, false, fmt.Errorf("publish the hello marker to %s: %w", stateQueue(s.r.n.in.Queue), err)
	}
	s.r.log.Info("gather instance ready; waiting to become the active one")
	select {
	case d, open := <-states:
		if !open {
			return Delivery{}, false, fmt.Errorf("consumer of %s cancelled by the broker", stateQueue(s.r.n.in.Queue))
		}
		return d, true, nil
	case <-ctx.Done():
		return Delivery{}, false, nil
	case <-s.ch.Done():
		return Delivery{}, false, errChannelLost
	}
}

// load reads Q.state from first (the delivery that made this instance
// active) until its own sync marker, then publishes its token and waits
// for it. It returns false when the channel was lost or ctx ended.
func (s *session) load(ctx context.Context, first Delivery, states <-chan Delivery) (bool, error) {
	g := s.gather
	syncID := g.session + "-sync"
	if _, err := s.statePublish(stateSync, syncID, nil); err != nil {
		return false, fmt.Errorf("publish the sync marker: %w", err)
	}
	var spare []uint64 // markers and messages without a live state, acked once the token is held
	var maxEpoch uint64
	d, ok := first, true
	for {
		if !ok {
			return false, nil
		}
		switch stateKind(d) {
		case stateCheckpoint:
			epoch, m := s.readCheckpoint(d)
			maxEpoch = max(maxEpoch, epoch)
			if m == nil {
				spare = append(spare, d.Tag)
			}
		default:
			spare = append(spare, d.Tag)
		}
		if stateKind(d) == stateSync && d.MessageID == syncID {
			break
		}
		d, ok = s.nextState(ctx, states)
	}
	g.epoch = maxEpoch + 1
	tokenID := fmt.Sprintf("%s-token", g.session)
	body, _ := json.Marshal(envelope.Checkpoint{Epoch: g.epoch, Session: g.session, States: []envelope.SplitState{}})
	if _, err := s.statePublish(stateCheckpoint, tokenID, body); err != nil {
		return false, fmt.Errorf("publish the token: %w", err)
	}
	for {
		d, ok := s.nextState(ctx, states)
		if !ok {
			return false, nil
		}
		if d.MessageID == tokenID {
			g.held = append(g.held, &stateMsg{id: tokenID, tag: d.Tag, live: 1, token: true, seen: time.Now()})
			break
		}
		spare = append(spare, d.Tag) // a hello of an instance started meanwhile
	}
	for _, tag := range spare {
		s.acker.submit(ackItem{tag: tag})
	}
	for id, m := range g.msgs {
		if m.live == 0 {
			s.acker.submit(ackItem{tag: m.tag})
			delete(g.msgs, id)
		} else {
			g.held = append(g.held, m)
		}
	}
	s.r.log.Info("gather instance active", "epoch", g.epoch, "open_splits", len(g.states))
	return true, nil
}

// nextState returns the next delivery of Q.state; false when the channel
// was lost, the consumer ended or ctx ended.
func (s *session) nextState(ctx context.Context, states <-chan Delivery) (Delivery, bool) {
	select {
	case d, ok := <-states:
		return d, ok
	case <-ctx.Done():
		return Delivery{}, false
	case <-s.ch.Done():
		return Delivery{}, false
	}
}

// readCheckpoint takes in a checkpoint read after a take-over: each state
// in it becomes the split's state unless a higher version of it was read.
// It returns the checkpoint's epoch and its message (nil when it holds no
// live state: a token, or a body that does not decode, which is logged).
func (s *session) readCheckpoint(d Delivery) (uint64, *stateMsg) {
	g := s.gather
	var b envelope.Checkpoint
	if err := json.Unmarshal(d.Body, &b); err != nil {
		s.r.log.Error("checkpoint in the state queue does not decode; dropping it", "message_id", d.MessageID, "error", err.Error())
		return 0, nil
	}
	m := &stateMsg{id: d.MessageID, tag: d.Tag, seen: time.Now()}
	for _, j := range b.States {
		st, err := decodeState(j, s.r.n.decodeAcc)
		if err != nil {
			s.r.log.Error("state in a checkpoint does not decode; dropping it", "message_id", d.MessageID, "error", err.Error())
			continue
		}
		if cur := g.states[st.id]; cur != nil {
			if !cur.ver.less(st.ver) {
				continue
			}
			cur.msg.live--
		}
		st.msg = m
		m.live++
		g.states[st.id] = st
	}
	if m.live == 0 {
		return b.Epoch, nil
	}
	g.msgs[m.id] = m
	return b.Epoch, m
}
