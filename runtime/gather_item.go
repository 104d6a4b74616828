package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
)

// errConsumerCancelled ends a session whose consumer the broker cancelled.
var errConsumerCancelled = errors.New("consumer cancelled by the broker")

// gatherItem takes in one delivery of a gather's queue: a failure notice,
// a parked state put back by dge parked redrive, the empty split marker,
// or an item.
func (s *session) gatherItem(d Delivery) {
	r := s.r
	if r.debug {
		d.received = time.Now()
	}
	r.m.consumed.Add(1)
	if t := r.e.tracer; t != nil {
		d.span = t.startProcess(s.ctx, r, &d)
	}
	if s.heldAlready(d) {
		// Before admit: a copy of an item a checkpoint holds never
		// reaches a handler, so its redeliveries are no crash loop.
		s.duplicate(d, "its index is in already")
		return
	}
	s.gather.claimed = false
	attempt, ok := s.admit(d)
	if !ok {
		if s.gather.claimed {
			s.admitParked(d, attempt)
		}
		return
	}
	fs, err := splitFramesOf(d.Headers)
	if err != nil {
		s.park(d, attempt, envelope.BadHeader, fmt.Sprintf("header %s: %v", HeaderSplit, err))
		return
	}
	if f, ok := noticeOf(d.Message); ok {
		s.gatherNotice(d, attempt, fs, f)
		return
	}
	if stateKind(d) == stateCheckpoint {
		s.adopt(d, attempt)
		return
	}
	top, ok := fs.top()
	if ok && top.Split != r.n.over && top.empty() {
		// The marker of an outer split of no items: no item of this
		// gather's split was ever made. It passes on to the outer split's
		// gather, as it passed the nodes before.
		s.forwardEmptySplit(d, attempt)
		return
	}
	if !ok || top.Split != r.n.over {
		what := "a message outside any split"
		if ok {
			what = fmt.Sprintf("an item of split %q", top.Split)
		}
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("%s reached the gather of split %q", what, r.n.over))
		return
	}
	if r.joined.has(top.ID) {
		s.duplicate(d, "its split was gathered already")
		return
	}
	st := s.gather.states[top.ID]
	if st == nil {
		st = s.openSplit(d, fs, top)
	}
	if st.count != top.Count {
		s.parkItem(d, attempt, st, envelope.Permanent, fmt.Sprintf(
			"item %d of a count of %d, but split %s has %d items: the split's handler returned lists of different lengths for one input",
			top.Index, top.Count, top.ID, st.count))
		return
	}
	if top.empty() {
		if st.firing {
			s.duplicate(d, "its split was complete already")
			return
		}
		s.gatherPending(d, st, -1)
		s.completeSplit(st)
		return
	}
	if st.bits.has(top.Index) {
		s.duplicate(d, "its index is in already")
		return
	}
	s.gatherTake(d, attempt, st, top.Index)
}

// heldAlready reports whether d is an item (not a notice or a state) whose
// index the gather holds, or of a split it gathered already.
func (s *session) heldAlready(d Delivery) bool {
	if !d.Redelivered && d.DeliveryCount == 0 {
		return false // the common case: checked after admit
	}
	if _, notice := noticeOf(d.Message); notice || stateKind(d) != "" {
		return false
	}
	fs, err := splitFramesOf(d.Headers)
	top, ok := fs.top()
	if err != nil || !ok || top.Split != s.r.n.over {
		return false
	}
	if s.r.joined.has(top.ID) {
		return true
	}
	st := s.gather.states[top.ID]
	return st != nil && st.count == top.Count && !top.empty() && st.bits.has(top.Index)
}

// gatherTake folds (or keeps) item index of st.
func (s *session) gatherTake(d Delivery, attempt int, st *splitState, index int) {
	r := s.r
	v, err := r.n.decodeBody(d.Body, r.maxBody)
	if err != nil {
		s.parkItem(d, attempt, st, envelope.Decode, fmt.Sprintf("decode %s: %v", r.n.in.Message, err))
		return
	}
	if st.items != nil {
		st.items[index] = json.RawMessage(d.Body)
	} else {
		acc, err := s.call(s.handlerContext(d.span, d.RunID, d.MessageID, attempt), func(ctx context.Context) (any, error) {
			return r.n.fold(ctx, st.acc, v)
		})
		if err != nil {
			s.foldFailed(d, attempt, st, err)
			return
		}
		st.acc = acc
	}
	if _, ok := d.Headers[HeaderRedriven]; ok {
		st.redriven++
	}
	s.gatherPending(d, st, index)
	if st.complete() {
		s.completeSplit(st)
	}
}

// gatherPending records that d brought item index to st (-1: none), to
// be acknowledged once the next checkpoint is confirmed.
func (s *session) gatherPending(d Delivery, st *splitState, index int) {
	if index >= 0 {
		st.bits.set(index)
		st.have++
		s.r.m.gatherPending.Add(-1)
	}
	if st.traceParent == "" {
		st.traceParent, st.traceState = d.TraceParent, d.TraceState
	}
	if d.TraceParent != "" && len(st.links) < maxGatherLinks && s.r.e.tracer != nil {
		st.links = append(st.links, d.TraceParent)
	}
	s.markDirty(st)
	s.gather.pend = append(s.gather.pend, pendAck{tag: d.Tag})
	endSpan(d.span, nil)
}

// openSplit opens the state of the split of d's top frame top.
func (s *session) openSplit(d Delivery, fs splitFrames, top splitFrame) *splitState {
	r := s.r
	st := &splitState{
		id: top.ID, runID: d.RunID, split: top.Split, outer: fs.pop().String(), count: top.Count,
		bits: newBitset(top.Count), firstSeen: time.Now().UTC(),
	}
	if r.n.fold != nil {
		st.acc = r.n.zero()
	} else {
		st.items = map[int]json.RawMessage{}
	}
	s.gather.states[st.id] = st
	r.m.gatherOpen(1, st.count)
	return st
}

// duplicate acknowledges a delivery that brings nothing new.
func (s *session) duplicate(d Delivery, why string) {
	r := s.r
	r.m.gatherDuplicates.Add(1)
	if r.debug {
		r.log.Debug("duplicate discarded", "run_id", d.RunID, "message_id", d.MessageID, "why", why)
	}
	s.acker.submit(ackItem{tag: d.Tag, span: d.span, ok: func() { r.m.acked.Add(1) }})
}

// foldFailed handles a fold handler's error: the accumulator is unchanged;
// the item is retried through Q.retry, or parked (failing its split) when
// the error is permanent or the item is out of attempts.
func (s *session) foldFailed(d Delivery, attempt int, st *splitState, err error) {
	r := s.r
	if reason := r.parkReason(err, attempt); reason != "" {
		s.parkItem(d, attempt, st, reason, err.Error())
		return
	}
	s.fail(d, attempt, err)
}

// parkItem parks an item of st, failing the split: the split's one notice
// goes first (see failSplit), then the parked copy.
func (s *session) parkItem(d Delivery, attempt int, st *splitState, reason envelope.Reason, errText string) {
	s.failSplit(st, RunFailure{Node: s.r.addr, Reason: string(reason), Error: clipText(errText)}, attempt)
	s.parkWith(d, attempt, reason, errText, parkOpts{report: true})
}

// admitParked fails the split of a delivery that admit parked (its notice
// claimed by gatherClaimNotice, so none went): when its frames name this
// gather's split.
func (s *session) admitParked(d Delivery, attempt int) {
	fs, err := splitFramesOf(d.Headers)
	top, ok := fs.top()
	if err != nil || !ok || top.Split != s.r.n.over || s.r.joined.has(top.ID) {
		return
	}
	st := s.gather.states[top.ID]
	if st == nil {
		st = s.openSplit(d, fs, top)
	}
	s.failSplit(st, RunFailure{Node: s.r.addr, Reason: string(admitReason(d, s.r)), Error: "an item was parked at the gather"}, max(attempt, 1))
}

// admitReason tells why admit parked d, for the split's failure notice.
func admitReason(d Delivery, r *nodeRun) envelope.Reason {
	q := r.n.in.Queue
	switch {
	case checkDelivery(d) != nil:
		return envelope.BadHeader
	case d.forgedDeath(q) != nil:
		return envelope.Decode
	case d.lastDeathReason(q) == "delivery_limit" || (crashThreshold(r.deliveryLimit) > 0 && d.redeliveries() >= crashThreshold(r.deliveryLimit)):
		return envelope.DeliveryLimit
	}
	return envelope.MaxAttempts
}

// gatherClaimNotice is a gather's claimNotice: the park path never sends a
// notice of its own for a gather (the gather sends its split's one notice,
// with the split's frame popped); it records that a park claimed one.
func (s *session) gatherClaimNotice(string) (string, func(), bool) {
	s.gather.claimed = true
	return "", nil, false
}
