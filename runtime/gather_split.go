package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgehq/dge/envelope"
	"go.opentelemetry.io/otel/trace"
)

// What becomes of a split at its gather: complete (the output published,
// then the state dropped), failed (one notice downstream, the state kept),
// timed out (the state parked), or put back by dge parked redrive.

// completeSplit fires a split whose every index is in, once a checkpoint
// holding it is written.
func (s *session) completeSplit(st *splitState) {
	st.firing = true
	s.checkpoint()
	s.fire(st)
}

// fire makes a complete split's output (the list handler's result, or the
// accumulator) and publishes it; fired takes the outcome.
func (s *session) fire(st *splitState) {
	r := s.r
	if s.gather.states[st.id] != st {
		return // adopted over or dropped meanwhile
	}
	st.firing = true
	st.attempt = max(st.attempt, 1)
	var span trace.Span // the gather's: a child of the first item's context, linking some items
	if t := r.e.tracer; t != nil {
		span = t.startGather(s.ctx, r, st)
	}
	out, err := s.gatherOutput(st, span)
	if err != nil {
		endSpan(span, err)
		s.outputFailed(st, err)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		endSpan(span, err)
		s.parkState(st, envelope.Permanent, fmt.Sprintf("encode output %T: %v", out, err))
		return
	}
	to := r.n.to[0]
	m := Message{
		Body: body, MessageID: deriveID(st.id, nil, r.addr, to), RunID: st.runID, Source: r.addr, Attempt: st.attempt,
	}
	continueTrace(span, Message{TraceParent: st.traceParent, TraceState: st.traceState}, &m)
	if st.outer != "" || st.redriven > 0 {
		m.Headers = map[string]any{}
		if st.outer != "" {
			m.Headers[HeaderSplit] = st.outer
		}
		if st.redriven > 0 {
			m.Headers[HeaderRedriven] = int64(st.redriven)
		}
	}
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, to, m)
	endSpan(span, err)
	if err != nil {
		r.log.Warn("publish failed; the split's output will be published by the next session", "split_id", st.id, "run_id", st.runID, "error", err.Error())
		return
	}
	s.later(c, func(err error) { s.fired(st, err) })
}

// gatherOutput returns a complete split's output: the accumulator, or the
// list handler's result over the items in index order (called with span,
// the gather's, as the parent of the handler's spans; nil: none).
func (s *session) gatherOutput(st *splitState, span trace.Span) (any, error) {
	r := s.r
	if st.items == nil {
		return st.acc, nil
	}
	vs := make([]any, st.count)
	for i := range vs {
		v, err := r.n.decodeBody(st.items[i], r.maxBody)
		if err != nil {
			return nil, Permanent(fmt.Errorf("decode item %d of split %s: %w", i, st.id, err))
		}
		vs[i] = v
	}
	return s.call(s.handlerContext(span, st.runID, "", st.attempt), func(ctx context.Context) (any, error) {
		return r.n.gatherList(ctx, vs)
	})
}

// outputFailed handles an error of a list handler: the call is retried
// after the edge's retry delay, and the split parked when the error is
// permanent or the calls reach max_attempts.
func (s *session) outputFailed(st *splitState, err error) {
	r := s.r
	if reason := r.parkReason(err, st.attempt); reason != "" {
		s.parkState(st, reason, err.Error())
		return
	}
	r.m.retried.Add(1)
	r.log.Warn("handler failed; retrying the split", "split_id", st.id, "run_id", st.runID, "attempt", st.attempt,
		"retry_in", r.n.in.Retry.String(), "error", err.Error())
	st.attempt++
	s.markDirty(st)
	t := time.NewTimer(r.n.in.Retry)
	s.gather.firing.Add(1)
	go func() {
		select {
		case <-t.C:
		case <-s.ctx.Done():
		}
		s.post(func() { s.fire(st) })
	}()
}

// fired takes the outcome of a split's output: confirmed, the split is
// done (its state dropped, its ID remembered so that late duplicates are
// dropped); otherwise it is published again after the retry delay.
func (s *session) fired(st *splitState, err error) {
	r := s.r
	if err != nil {
		r.log.Warn("output not confirmed; publishing it again", "split_id", st.id, "run_id", st.runID, "error", err.Error())
		s.outputFailed(st, err)
		return
	}
	r.m.published.Add(1)
	r.joined.add(st.id)
	s.dropState(st, nil)
}

// later runs f(c's outcome) in the gather loop once c is resolved; the
// graceful stop waits for it (gather.firing).
func (s *session) later(c Confirmation, f func(error)) {
	s.gather.firing.Add(1)
	go func() {
		err := c.Wait(s.ctx)
		s.post(func() { f(err) })
	}()
}

// post runs f in the gather loop, then releases one count of
// gather.firing; when the session ends first, f never runs (what it would
// settle is redelivered).
func (s *session) post(f func()) {
	if s.ctx.Err() == nil {
		select {
		case s.gather.events <- func() { defer s.gather.firing.Done(); f() }:
			return
		case <-s.ctx.Done():
		}
	}
	s.gather.firing.Done()
}

// dropState forgets a split's state (after: the publish that made that
// durable, nil when confirmed already): the other live states of its
// message are rewritten by the next checkpoint, so that the message, and
// with it the dropped version, can be acknowledged.
func (s *session) dropState(st *splitState, after Confirmation) {
	g := s.gather
	if g.states[st.id] != st {
		return
	}
	delete(g.states, st.id)
	s.r.m.gatherOpen(-1, -(st.count - st.have))
	m := st.msg
	st.msg = nil
	if m == nil {
		return
	}
	if m.live > 1 {
		for _, o := range g.states {
			if o.msg == m {
				s.markDirty(o)
			}
		}
	}
	s.unref(m, after)
}

// failSplit marks st failed with f and publishes its one failure notice
// downstream (its frame popped); it returns the notice's confirmation
// (nil when the split had failed already or the publish failed).
func (s *session) failSplit(st *splitState, f RunFailure, attempt int) Confirmation {
	if st.failed != nil {
		return nil
	}
	r := s.r
	st.failed = &f
	s.markDirty(st)
	var last Confirmation
	for _, o := range r.notices(st.runID, "split-failed:"+st.id, attempt, f) {
		o.msg.Headers = noticeHeaders(f)
		if st.outer != "" {
			o.msg.Headers[HeaderSplit] = st.outer
		}
		o.msg.TraceParent, o.msg.TraceState = st.traceParent, st.traceState
		c, err := s.ch.Publish(s.ctx, o.exchange, o.key, o.msg)
		if err != nil {
			r.log.Warn("publish failed; the split's notice will be sent by the next session", "split_id", st.id, "error", err.Error())
			return nil
		}
		last = c
	}
	r.m.published.Add(int64(len(r.n.to)))
	r.log.Info("split failed; notice sent", "split_id", st.id, "run_id", st.runID, "failed_node", f.Node, "reason", f.Reason)
	return last
}

// gatherNotice takes in a failure notice. One of this gather's split
// fails it (see failSplit) and is acknowledged with the checkpoint that
// records it; one of a run whose frames hold no frame of the split (the
// split itself parked its input) is forwarded unchanged.
func (s *session) gatherNotice(d Delivery, attempt int, fs splitFrames, f RunFailure) {
	r := s.r
	top, ok := fs.top()
	if !ok || top.Split != r.n.over {
		for _, x := range fs {
			if x.Split == r.n.over {
				s.park(d, attempt, envelope.Permanent, fmt.Sprintf("failure notice of split %q inside split %q reached the gather of %q", top.Split, x.Split, r.n.over))
				return
			}
		}
		s.forwardNotice(d, attempt, f)
		return
	}
	r.m.notices.Add(1)
	if r.joined.has(top.ID) {
		s.duplicate(d, "its split was gathered already")
		return
	}
	st := s.gather.states[top.ID]
	if st == nil {
		st = s.openSplit(d, fs, top)
	}
	if st.failed != nil || st.firing {
		s.duplicate(d, "its split failed already, or is complete")
		return
	}
	c := s.failSplit(st, f, attempt)
	s.gather.pend = append(s.gather.pend, pendAck{tag: d.Tag, extra: c})
	endSpan(d.span, nil)
	s.checkpoint()
}

// sweep parks the states of splits incomplete after the node's timeout.
func (s *session) sweep(now time.Time) {
	r := s.r
	if r.n.timeout <= 0 {
		return
	}
	for _, st := range s.gather.states {
		if st.firing || now.Sub(st.firstSeen) <= r.n.timeout {
			continue
		}
		reason := envelope.IncompleteSplit
		if st.failed != nil {
			reason = envelope.MemberFailed
		}
		s.parkState(st, reason, fmt.Sprintf("split %s of run %s incomplete after %s (timeout %s): have %d of %d items, missing indexes %s",
			st.id, st.runID, now.Sub(st.firstSeen).Round(time.Millisecond), r.n.timeout, st.have, st.count, st.missingText()))
	}
}

// parkState parks a split's state in Q.dead (a checkpoint of that state
// alone, which dge parked redrive puts back on Q for adopt), sends the
// split's notice unless it sent one, and drops the state.
func (s *session) parkState(st *splitState, reason envelope.Reason, errText string) {
	r := s.r
	j, err := encodeState(st)
	var body []byte
	if err == nil {
		body, err = json.Marshal(envelope.Checkpoint{Epoch: s.gather.epoch, States: []envelope.SplitState{j}})
	}
	if err != nil {
		r.log.Error("state cannot be encoded; dropping it", "split_id", st.id, "error", err.Error())
		s.dropState(st, nil)
		return
	}
	m := Message{
		Body: body, MessageID: deriveID(st.id, nil, r.addr, stateQueue(r.n.in.Queue)), RunID: st.runID, Source: r.addr,
		Attempt: st.attempt, TraceParent: st.traceParent, TraceState: st.traceState,
		Headers: map[string]any{HeaderState: stateCheckpoint, HeaderSplit: st.frames()},
	}
	d := Delivery{Message: m}
	p := newParked(d, r.addr, r.n.in.Queue, st.attempt, reason, errText)
	r.log.Error("parking split state", "split_id", st.id, "run_id", st.runID, "reason", string(reason), "error", p.errText, "dead_queue", deadQueue(p.queue))
	c, err := publishParked(s.ctx, s.ch, r.e.g.WorkExchange, r.log, p)
	if err != nil {
		r.log.Warn("park failed; the state is parked by the next session", "split_id", st.id, "error", err.Error())
		return
	}
	if n := s.failSplit(st, RunFailure{Node: r.addr, Reason: string(reason), Error: p.errText}, st.attempt); n != nil {
		c = n // confirmed after the parked copy
	}
	s.dropState(st, c)
	s.later(c, func(err error) {
		if err == nil {
			r.m.parked.Add(1)
			r.e.onFailure(s.ctx, p.failure(d))
		}
	})
}

// adopt takes in a parked state that dge parked redrive put back on Q: it
// becomes its split's state unless the split is done or this gather holds
// a state of it with more items in.
func (s *session) adopt(d Delivery, attempt int) {
	r := s.r
	var b envelope.Checkpoint
	var st *splitState
	err := json.Unmarshal(d.Body, &b)
	if err == nil && len(b.States) != 1 {
		err = fmt.Errorf("%d states, want 1", len(b.States))
	}
	if err == nil {
		st, err = decodeState(b.States[0], r.n.decodeAcc)
	}
	if err != nil {
		s.park(d, attempt, envelope.Decode, "parked split state: "+err.Error())
		return
	}
	if st.split != r.n.over || (st.items == nil) != (r.n.fold != nil) {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("state of split %q reached the gather of split %q", st.split, r.n.over))
		return
	}
	cur := s.gather.states[st.id]
	if r.joined.has(st.id) || (cur != nil && (cur.firing || cur.have > st.have)) {
		s.duplicate(d, "its split is done, or held with more items in")
		return
	}
	if cur != nil {
		st.ver = version{max(st.ver.epoch, cur.ver.epoch), max(st.ver.seq, cur.ver.seq)}
		st.msg, cur.msg = cur.msg, nil
		delete(s.gather.states, cur.id)
		r.m.gatherOpen(-1, -(cur.count - cur.have))
	}
	st.firstSeen = time.Now().UTC()
	if _, ok := d.Headers[HeaderRedriven]; ok {
		st.redriven++
	}
	s.gather.states[st.id] = st
	r.m.gatherOpen(1, st.count-st.have)
	r.log.Info("parked split state adopted", "split_id", st.id, "run_id", st.runID, "have", st.have, "count", st.count)
	s.gatherPending(d, st, -1)
	if st.complete() {
		s.completeSplit(st)
	}
}
