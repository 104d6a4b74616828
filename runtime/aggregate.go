package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dgehq/dge/envelope"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// aggregatePrefetch is the least prefetch an aggregate consumes with: its
// window holds the parts of every pending group.
const aggregatePrefetch = 2000

// aggregateLoop consumes an aggregate node's queue. The queue has a single
// active consumer, so one instance sees every part; the parts stay
// unacknowledged (held by the broker) until their group's output is
// confirmed, so a crash redelivers whole groups to the next active instance.
func (s *session) aggregateLoop(deliveries <-chan Delivery) {
	r := s.r
	s.agg = &aggState{groups: map[string]*aggGroup{}, maxHold: min(max(r.n.timeout/10, time.Second), 5*time.Minute)}
	s.claimNotice = s.aggClaimNotice
	tickEvery := min(max(r.n.timeout/20, 100*time.Millisecond), 5*time.Second)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				s.aggStop()
				return
			}
			s.aggAdd(d)
		case <-tick.C:
			s.aggSweep(time.Now())
		}
		// A window full of incomplete groups would stop delivery for good:
		// their partners sit behind them in the queue. Rotate a part of the
		// group opened last to the tail to make room. The oldest groups stay
		// held, so their partners reach them within one pass over the queue,
		// and a partner that joins a held group is never the one rotated
		// away. (Rotating the oldest instead can cycle forever: with parts
		// a0..aN then b0..bN in the queue and a window smaller than N, the
		// window slides round the queue without ever holding a pair. Rotating
		// the part that arrived last can too: with three inputs and a window
		// of one-part groups, every partner that arrives is the newest part.)
		for s.agg.held >= r.prefetch && s.ctx.Err() == nil {
			g := s.agg.newestGroup()
			if g == nil || !s.aggRotate(g.newestPart(), "the prefetch window is full") {
				break
			}
		}
	}
}

// aggAdd takes in one part.
func (s *session) aggAdd(d Delivery) {
	r := s.r
	if r.debug {
		d.received = time.Now()
	}
	r.m.consumed.Add(1)
	attempt, ok := s.admit(d)
	if !ok {
		return
	}
	idx := -1
	for i, f := range r.n.from {
		if f == d.Source {
			idx = i
		}
	}
	if idx < 0 {
		s.park(d, attempt, envelope.Permanent, fmt.Sprintf("part from %q, which is not one of the aggregate's inputs %s", d.Source, strings.Join(r.n.from, ", ")))
		return
	}
	if f, ok := noticeOf(d.Message); ok {
		s.aggNotice(d, attempt, f)
		return
	}
	if d.RunID == "" {
		s.park(d, attempt, envelope.Permanent, "part without a run ID cannot be joined")
		return
	}
	if s.agg.groups[d.RunID] == nil && r.failed.has(d.RunID) && !r.joined.has(d.RunID) {
		if _, ok := d.Headers[HeaderRedriven]; !ok {
			// Its run failed: a notice came, or this node parked its group.
			s.parkWith(d, attempt, envelope.MemberFailed, fmt.Sprintf("run %s failed upstream, so this part can never be joined", d.RunID), parkOpts{})
			return
		}
		// dge parked redrive put the run back: let it join again, and
		// report it again should it fail again.
		r.failed.remove(d.RunID)
		r.log.Info("redriven part of a failed run accepted", "run_id", d.RunID, "message_id", d.MessageID, "from", d.Source)
	}
	v, message, err := r.n.decodePart(idx, d.Body, r.maxBody)
	if err != nil {
		s.park(d, attempt, envelope.Decode, fmt.Sprintf("decode %s: %v", message, err))
		// The run failed here: its parts held so far can never be joined.
		if g := s.agg.groups[d.RunID]; g != nil {
			s.aggRelease(g)
			s.aggParkParts(g, envelope.MemberFailed, memberFailed(d.RunID, RunFailure{Node: r.addr, Reason: string(envelope.Decode)}), false)
		}
		return
	}
	now := time.Now().UTC()
	g := s.agg.groups[d.RunID]
	if g == nil && r.joined.has(d.RunID) {
		// A late duplicate of a part whose group this instance already
		// joined and published: opening a group for it could only end in
		// Q.dead as incomplete. (After a fail-over the new active instance
		// does not know the old one's runs; such a duplicate is then parked
		// as incomplete-group after the timeout, never dropped.)
		r.log.Debug("duplicate part of a joined run discarded", "run_id", d.RunID, "message_id", d.MessageID, "from", d.Source)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
		return
	}
	if g == nil {
		g = s.agg.newGroup(d.RunID, len(r.n.from))
	}
	if g.parts[idx] != nil {
		// A duplicate (at-least-once upstream): the held copy carries the
		// same data. Ack it at once.
		r.log.Debug("duplicate part discarded", "run_id", d.RunID, "message_id", d.MessageID, "from", d.Source)
		s.acker.submit(ackItem{tag: d.Tag, ok: func() { r.m.acked.Add(1) }})
		return
	}
	redelivered := d.Redelivered
	p := &aggPart{
		d: d, from: idx, value: v, attempt: attempt,
		firstSeen: headerTime(d.Headers, HeaderFirstSeen, now), heldSince: now,
		suspect: redelivered || headerFlag(d.Headers, HeaderSuspect),
		crashes: headerCount(d.Headers, HeaderCrashes),
	}
	g.parts[idx] = p
	g.have++
	s.agg.held++
	r.m.inFlight.Add(1)
	switch {
	case g.have == len(g.parts):
		s.aggJoin(g)
	case redelivered:
		// Held parts come back after every lost connection, each time with
		// a higher delivery count, although no handler saw them: rotate the
		// part to reset that count, and remember in its headers that its
		// group may have been in the handler (see aggJoin).
		s.aggRotate(p, "redelivered while its group was incomplete")
	}
}

// aggJoin handles a complete group. When no part of it came back from a
// lost consumer, it calls the handler (aggComplete). Otherwise the group
// may have been in the handler when that consumer died, perhaps killed by
// it: the group counts one more crash, is parked with reason delivery-limit
// once the crashes reach the crash threshold, and is otherwise rotated
// whole with the new count in its parts' headers before the handler is
// called on the copies. So a crash loop is counted only over handler calls,
// and a part held through any number of lost connections is never parked
// for it.
func (s *session) aggJoin(g *aggGroup) {
	suspect, crashes := false, 0
	for _, p := range g.parts {
		suspect = suspect || p.suspect
		crashes = max(crashes, p.crashes)
	}
	if !suspect {
		s.aggComplete(g)
		return
	}
	crashes++
	if t := s.r.aggCrashThreshold(); t > 0 && crashes >= t {
		s.aggRelease(g)
		msg := fmt.Sprintf("the handler was called %d times for this group without it being settled (its consumer crashed or lost its channel each time)", crashes)
		s.aggParkParts(g, envelope.DeliveryLimit, msg, true)
		return
	}
	for _, p := range g.parts {
		p.suspect, p.crashes = false, crashes
		if !s.aggRotate(p, "its group is complete after a lost consumer; recording the handler call") {
			return
		}
	}
}

// aggCrashThreshold is the number of handler calls that may have crashed
// after which a group is parked: the crash threshold of the work queues'
// delivery-limit, or of the node's max_attempts on classic queues.
func (r *nodeRun) aggCrashThreshold() int {
	limit := r.deliveryLimit
	if limit <= 0 {
		limit = r.n.in.MaxAttempts
	}
	return crashThreshold(limit)
}

// aggRelease forgets a group's parts (their fate is now with the acker).
func (s *session) aggRelease(g *aggGroup) {
	s.agg.forget(g)
	for _, p := range g.parts {
		if p != nil {
			s.agg.held--
			s.r.m.inFlight.Add(-1)
		}
	}
}

// aggParkParts parks every part of a released group with reason and
// errText. With notify, the first part carries the run's one failure notice
// downstream and on_failure is called per part; without (member-failed:
// the run failed elsewhere, which was reported there), neither.
func (s *session) aggParkParts(g *aggGroup, reason envelope.Reason, errText string, notify bool) {
	first := true
	for _, p := range g.parts {
		if p == nil {
			continue
		}
		s.parkWith(p.d, p.attempt, reason, errText, parkOpts{notify: notify && first, report: notify})
		first = false
	}
}

// aggComplete calls the handler with a complete group, publishes its output
// and acks every part once the output is confirmed.
func (s *session) aggComplete(g *aggGroup) {
	r := s.r
	s.aggRelease(g)
	values := make([]any, len(g.parts))
	ids := make([]string, len(g.parts))
	attempt := 0
	for i, p := range g.parts {
		values[i] = p.value
		ids[i] = p.d.MessageID
		attempt = max(attempt, p.attempt)
	}
	var span trace.Span
	if t := r.e.tracer; t != nil {
		span = t.startJoin(s.ctx, r, g.runID, attempt, g.parts)
	}
	out, err := s.call(s.handlerContext(span, g.runID, "", attempt), func(ctx context.Context) (any, error) { return r.n.aggregate(ctx, values) })
	if err == nil {
		var body []byte
		body, err = json.Marshal(out)
		if err != nil {
			err = Permanent(fmt.Errorf("encode output %T: %w", out, err))
		} else {
			s.aggPublish(g, strings.Join(ids, "+"), attempt, body, span)
			return
		}
	}
	if span != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	if reason := r.parkReason(err, attempt); reason != "" {
		// Each part's park is a span of its own, a child of the part's
		// context.
		spanEvent(span, "park", attrReason.String(string(reason)), attrError.String(err.Error()))
		endSpan(span, nil)
		s.aggParkParts(g, reason, err.Error(), true)
	} else {
		spanEvent(span, "retry", attrError.String(err.Error()), attrRetryIn.String(r.n.in.Retry.String()))
		endSpan(span, nil)
		r.log.WarnContext(spanContext(s.ctx, span), "handler failed; retrying the group", "run_id", g.runID, "attempt", attempt,
			"retry_in", r.n.in.Retry.String(), "error", err.Error())
		for _, p := range g.parts {
			r.m.retried.Add(1)
			if r.debug {
				r.handled(span, p.d.RunID, p.d.MessageID, p.attempt, p.d.received, "retry")
			}
			s.acker.submit(ackItem{tag: p.d.Tag, reject: true})
		}
	}
}

// aggPublish publishes a group's output, carrying the context of span (the
// join's; nil: none), and acks every part once it is confirmed.
func (s *session) aggPublish(g *aggGroup, partIDs string, attempt int, body []byte, span trace.Span) {
	r := s.r
	to := r.n.to[0]
	m := Message{
		Body:      body,
		MessageID: deriveID(partIDs, nil, r.n.Addr(), to),
		RunID:     g.runID,
		Source:    r.n.Addr(),
		Attempt:   attempt,
	}
	for _, p := range g.parts {
		if h := redrivenHeaders(p.d.Headers); h != nil {
			m.Headers = h
		}
	}
	continueTrace(span, g.parts[0].d.Message, &m) // untraced: the first part's context
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, to, m)
	if err != nil {
		endSpan(span, err)
		r.log.WarnContext(spanContext(s.ctx, span), "publish failed; the group will be redelivered", "run_id", g.runID, "error", err.Error())
		return
	}
	for i, p := range g.parts {
		first := i == 0
		var partSpan trace.Span // the join's span ends with its first part's settling
		if first {
			partSpan = span
		}
		s.acker.submit(ackItem{
			tag:   p.d.Tag,
			confs: []Confirmation{c},
			span:  partSpan,
			ok: func() {
				r.m.acked.Add(1)
				if first {
					r.m.published.Add(1)
					r.joined.add(g.runID)
				}
				if r.debug {
					r.handled(span, p.d.RunID, p.d.MessageID, p.attempt, p.d.received, "done")
				}
			},
			failed: func(err error, _ bool) {
				if first {
					r.log.Warn("output not confirmed; the group's parts will be redelivered", "run_id", g.runID, "error", err.Error())
				}
			},
			unroutable: true, in: p.d, attempt: p.attempt, shared: !first,
		})
	}
}

// aggSweep parks groups older than the node's timeout and rotates parts
// held longer than maxHold.
func (s *session) aggSweep(now time.Time) {
	r := s.r
	for _, g := range s.aggGroups() {
		first := now
		var have, missing []string
		for i, p := range g.parts {
			if p == nil {
				missing = append(missing, r.n.from[i])
				continue
			}
			have = append(have, r.n.from[i])
			if p.firstSeen.Before(first) {
				first = p.firstSeen
			}
		}
		if r.n.timeout > 0 && now.Sub(first) > r.n.timeout {
			s.aggRelease(g)
			msg := fmt.Sprintf("group of run %s incomplete after %s (timeout %s): have %s, missing %s",
				g.runID, now.Sub(first).Round(time.Millisecond), r.n.timeout, strings.Join(have, ", "), strings.Join(missing, ", "))
			s.aggParkParts(g, envelope.IncompleteGroup, msg, true)
		}
	}
	for s.ctx.Err() == nil {
		p := s.aggOldest()
		if p == nil || now.Sub(p.heldSince) < s.agg.maxHold {
			return
		}
		if !s.aggRotateOldest("held longer than " + s.agg.maxHold.String()) {
			return
		}
	}
}

// aggGroups returns the pending groups.
func (s *session) aggGroups() []*aggGroup {
	gs := make([]*aggGroup, 0, len(s.agg.groups))
	for _, g := range s.agg.groups {
		gs = append(gs, g)
	}
	return gs
}

// aggOldest returns the part held longest, or nil.
func (s *session) aggOldest() *aggPart {
	var oldest *aggPart
	for _, g := range s.agg.groups {
		for _, p := range g.parts {
			if p != nil && (oldest == nil || p.heldSince.Before(oldest.heldSince)) {
				oldest = p
			}
		}
	}
	return oldest
}

// aggRotateOldest re-publishes the part held longest to the tail of the
// queue (same IDs, with its first-seen time) and acks the held copy once the
// new one is confirmed. It reports whether a part was rotated.
func (s *session) aggRotateOldest(why string) bool {
	p := s.aggOldest()
	if p == nil {
		return false
	}
	return s.aggRotate(p, why)
}

func (s *session) aggRotate(p *aggPart, why string) bool {
	r := s.r
	g := s.agg.groups[p.d.RunID]
	g.parts[p.from] = nil
	g.have--
	s.agg.held--
	r.m.inFlight.Add(-1)
	if g.have == 0 {
		s.agg.forget(g)
	}
	h := make(map[string]any, len(p.d.Headers)+3)
	for k, v := range p.d.Headers {
		h[k] = v
	}
	h[HeaderFirstSeen] = p.firstSeen.Format(time.RFC3339Nano)
	delete(h, HeaderSuspect)
	if p.suspect {
		h[HeaderSuspect] = true
	}
	delete(h, HeaderCrashes)
	if p.crashes > 0 {
		h[HeaderCrashes] = int64(p.crashes)
	}
	m := p.d.Message
	m.Headers = h
	r.log.Debug("rotating part to the queue's tail", "run_id", p.d.RunID, "message_id", p.d.MessageID, "why", why)
	c, err := s.ch.Publish(s.ctx, r.e.g.WorkExchange, r.n.in.Queue, m)
	if err != nil {
		r.log.Warn("rotate failed; the part will be redelivered", "run_id", p.d.RunID, "error", err.Error())
		return false
	}
	s.acker.submit(ackItem{
		tag:   p.d.Tag,
		confs: []Confirmation{c},
		ok:    func() { r.m.rotated.Add(1) },
		failed: func(err error, redelivered bool) {
			r.log.Warn("rotated copy not confirmed; "+failedFate(redelivered, "the part", "rejecting the part for a retry"), "run_id", p.d.RunID, "error", err.Error())
		},
	})
	return true
}

// aggStop runs when the consumer ends. On a graceful stop (the channel is
// still open) every held part is rotated to the tail, so the next active
// instance gets it without a redelivery being counted against it. On a lost
// channel there is nothing to do: the broker redelivers the held parts.
func (s *session) aggStop() {
	select {
	case <-s.ch.Done():
		return
	default:
	}
	for s.ctx.Err() == nil && s.aggRotateOldest("shutting down") {
	}
}
