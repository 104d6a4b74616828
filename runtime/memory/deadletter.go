package memory

import (
	"maps"
	"time"

	dge "github.com/dgehq/dge/runtime"
	amqp "github.com/rabbitmq/amqp091-go"
)

// deadLetter dead-letters m from q for reason: it records the death in the
// x-death header as RabbitMQ does and routes the message through q's
// dead-letter exchange with its routing key. As on RabbitMQ, the message is
// dropped without a dead-letter exchange, with no queue bound to the key
// there, and for every queue that would close a dead-letter cycle without a
// rejection in it (see isDeadLetterCycle). The caller removes m from q and
// uncounts it.
func (b *Broker) deadLetter(q *memQueue, m *memMsg, reason string) {
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
			entry["count"] = int64(deathCount(t) + 1)
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

// deathCount returns the count of x-death entry t, read as the runtime
// reads it (any integer type, or a number in a string).
func deathCount(t amqp.Table) int {
	return dge.DeathsFromHeader([]any{t})[0].Count
}

// schedule arms q's expiry timer for its head message.
func (b *Broker) schedule(q *memQueue) {
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
func (b *Broker) expire(q *memQueue) {
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
