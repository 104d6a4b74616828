// Package declare declares over AMQP the topology dge apply would create
// for a graph, for tests of the runtime and end-to-end tests that must not
// depend on the plan and apply packages. Mutable settings that dge apply
// puts in policies (dead-lettering, TTLs, delivery limit) are queue
// arguments here, which the runtime cannot tell apart.
package declare

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Spec is the topology of one graph.
type Spec struct {
	Graph         string
	WorkExchange  string
	RetryExchange string
	PollExchange  string // "" when the graph has no poll node
	Classic       bool   // classic queues instead of quorum queues
	Queues        []Queue
}

// Queue is one edge queue Q with its companions Q.retry, Q.dead and, for
// poll nodes, Q.poll.
type Queue struct {
	Name         string
	Retry        time.Duration // TTL of Q.retry
	MaxAttempts  int           // delivery limit of Q (quorum only); 0: none
	Poll         time.Duration // TTL of Q.poll; 0: no poll queue
	SingleActive bool          // x-single-active-consumer (aggregate queues)
}

// Declare declares every exchange, queue and binding of s on conn.
func Declare(conn *amqp.Connection, s Spec) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	stamp := amqp.Table{"x-dge-graph": s.Graph}
	for _, x := range []string{s.WorkExchange, s.RetryExchange, s.PollExchange} {
		if x == "" {
			continue
		}
		if err := ch.ExchangeDeclare(x, "direct", true, false, false, false, stamp); err != nil {
			return fmt.Errorf("declare exchange %s: %w", x, err)
		}
	}
	base := func() amqp.Table {
		t := amqp.Table{"x-dge-graph": s.Graph}
		if !s.Classic {
			t["x-queue-type"] = "quorum"
		}
		return t
	}
	dlx := func(t amqp.Table, exchange string) {
		t["x-dead-letter-exchange"] = exchange
		if !s.Classic {
			t["x-dead-letter-strategy"] = "at-least-once"
			t["x-overflow"] = "reject-publish"
		}
	}
	queue := func(name string, args amqp.Table, exchange, key string) error {
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare queue %s: %w", name, err)
		}
		if err := ch.QueueBind(name, key, exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s with key %s: %w", name, exchange, key, err)
		}
		return nil
	}
	for _, q := range s.Queues {
		work := base()
		dlx(work, s.RetryExchange)
		if q.MaxAttempts > 0 && !s.Classic {
			work["x-delivery-limit"] = int64(q.MaxAttempts)
		}
		if q.SingleActive {
			work["x-single-active-consumer"] = true
		}
		if err := queue(q.Name, work, s.WorkExchange, q.Name); err != nil {
			return err
		}
		retry := base()
		dlx(retry, s.WorkExchange)
		retry["x-message-ttl"] = q.Retry.Milliseconds()
		if err := queue(q.Name+".retry", retry, s.RetryExchange, q.Name); err != nil {
			return err
		}
		if err := queue(q.Name+".dead", base(), s.WorkExchange, q.Name+".dead"); err != nil {
			return err
		}
		if q.Poll > 0 {
			poll := base()
			dlx(poll, s.WorkExchange)
			poll["x-message-ttl"] = q.Poll.Milliseconds()
			if err := queue(q.Name+".poll", poll, s.PollExchange, q.Name); err != nil {
				return err
			}
		}
	}
	return nil
}
