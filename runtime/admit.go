package runtime

import (
	"fmt"

	"github.com/dgehq/dge/envelope"
)

// Admitting a delivery: before a node reads anything of it, the border
// check of its headers and properties (header.go), then what its history
// says: a forged dead-letter history, a crash loop, an arrival past the
// node's max_attempts. Whatever fails is parked here, alone.

// admit decides whether delivery d may be handled, parking it when not: a
// header or property the runtime cannot use or copy (checkDelivery), a
// forged dead-letter history, a crash loop (see parkCrashLoop), or an
// arrival past the node's max_attempts. It returns the delivery's attempt.
func (s *session) admit(d Delivery) (attempt int, ok bool) {
	r := s.r
	q := r.n.in.Queue
	attempt = d.attempt(q)
	if bad := checkDelivery(d); bad != nil {
		s.parkBadHeader(d, attempt, bad)
		return 0, false
	}
	if err := d.forgedDeath(q); err != nil {
		s.park(d, 1, envelope.Decode, err.Error())
		return 0, false
	}
	if s.parkCrashLoop(d, attempt) {
		return 0, false
	}
	if r.n.in.MaxAttempts > 0 && attempt > r.n.in.MaxAttempts {
		reason := envelope.MaxAttempts
		if d.lastDeathReason(q) == "delivery_limit" {
			reason = envelope.DeliveryLimit
		}
		s.park(d, attempt-1, reason, fmt.Sprintf("arrived for attempt %d of at most %d", attempt, r.n.in.MaxAttempts))
		return 0, false
	}
	return attempt, true
}

// parkCrashLoop parks a delivery the broker has handed out so often without
// it being settled (each time a consumer died or lost its channel holding
// it) that it is one redelivery short of the queue's delivery-limit, and
// reports whether it did. See crashThreshold for why the runtime must not
// leave this to the broker. Classic queues report no delivery count, so
// this never fires there.
func (s *session) parkCrashLoop(d Delivery, attempt int) bool {
	limit := s.r.deliveryLimit
	t := crashThreshold(limit)
	n := d.redeliveries()
	if t == 0 || n < t {
		return false
	}
	s.park(d, attempt, envelope.DeliveryLimit, fmt.Sprintf(
		"delivered %d times without being settled (its consumer crashed or lost its channel each time); parked before the queue's delivery-limit of %d makes the broker dead-letter it",
		n+1, limit))
	return true
}

// crashThreshold returns the redelivery count at which the runtime parks a
// message itself, one delivery before the broker's delivery-limit: a
// message dead-lettered for delivery_limit would reach Q.retry and then be
// dropped by RabbitMQ's dead-letter cycle detection when it expires there
// (its cycle holds no rejection), so it must never get that far. The one
// delivery to spare covers a crash while the park itself is in progress.
func crashThreshold(limit int) int {
	if limit <= 0 {
		return 0
	}
	return max(limit-1, 1)
}

// attempt returns the number of this delivery's attempt on queue: 1, plus
// every time it was dead-lettered from queue, for any reason (rejected by a
// handler error, or delivery_limit after a crash loop).
//
// Redeliveries after a consumer crash (DeliveryCount) are not attempts: when
// an instance dies, every message it had prefetched is redelivered, and those
// innocent messages must not move towards Q.dead. A message that really
// crashes its consumer over and over is bounded by the quorum work queue's
// delivery-limit, whose dead-lettering is counted here.
//
// Counts come from headers, which a publisher can forge: a negative or
// absurd count is clamped, so it can shorten what the runtime allows but
// never extend it or overflow.
func (d Delivery) attempt(queue string) int {
	n := 1
	for _, x := range d.Deaths {
		if x.Queue == queue {
			n += clampCount(x.Count)
		}
	}
	return min(n, maxHeaderCount)
}

// forgedDeath returns an error when d's dead-letter history for queue holds
// an entry that only a publisher could have written: a count below 1. The
// broker builds on a history it finds in a message (RabbitMQ before 3.13
// adds to a published x-death's count), so such a message would never run
// out of attempts; it is refused instead.
func (d Delivery) forgedDeath(queue string) error {
	for _, x := range d.Deaths {
		if x.Queue == queue && x.Count < 1 {
			return fmt.Errorf("forged x-death header: an entry for queue %q with count %d (the broker writes counts of 1 or more)", queue, x.Count)
		}
	}
	return nil
}

// redeliveries returns how often the broker delivered d before without it
// being settled: its delivery count, clamped, and 0 on a first delivery (a
// x-delivery-count header there was written by a publisher, not the broker).
func (d Delivery) redeliveries() int {
	if !d.Redelivered {
		return 0
	}
	return clampCount(d.DeliveryCount)
}

// lastDeathReason returns the reason of the most recent dead-lettering from
// queue, or "".
func (d Delivery) lastDeathReason(queue string) string {
	for _, x := range d.Deaths {
		if x.Queue == queue {
			return x.Reason
		}
	}
	return ""
}
