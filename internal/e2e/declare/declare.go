// Package declare declares over AMQP the topology dge apply would create
// for a graph, for tests of the runtime and end-to-end tests that must not
// depend on the plan and apply packages. The queue arguments are dge's
// (plan.QueueArgs: dead-lettering, and on quorum queues at-least-once with
// overflow reject-publish); the settings dge apply keeps in policies so
// that it can change them in place (the retry and poll delays, the
// delivery limit) are queue arguments here as well, which the runtime
// cannot tell apart. A test in this package checks both against
// plan.Desired.
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

// Decl is one queue as Declare declares it: its arguments and its one
// binding.
type Decl struct {
	Name      string
	Arguments amqp.Table
	Exchange  string // the exchange it is bound to
	Key       string // with this routing key
}

// Decls returns the queues Declare declares for s, in order.
func Decls(s Spec) []Decl {
	base := func() amqp.Table {
		t := amqp.Table{"x-dge-graph": s.Graph}
		if !s.Classic {
			t["x-queue-type"] = "quorum"
		}
		return t
	}
	dlx := func(t amqp.Table, exchange string) amqp.Table {
		t["x-dead-letter-exchange"] = exchange
		if !s.Classic {
			t["x-dead-letter-strategy"] = "at-least-once"
			t["x-overflow"] = "reject-publish"
		}
		return t
	}
	var out []Decl
	for _, q := range s.Queues {
		work := dlx(base(), s.RetryExchange)
		if q.MaxAttempts > 0 && !s.Classic {
			work["x-delivery-limit"] = int64(q.MaxAttempts)
		}
		if q.SingleActive {
			work["x-single-active-consumer"] = true
		}
		retry := dlx(base(), s.WorkExchange)
		retry["x-message-ttl"] = q.Retry.Milliseconds()
		out = append(out,
			Decl{Name: q.Name, Arguments: work, Exchange: s.WorkExchange, Key: q.Name},
			Decl{Name: q.Name + ".retry", Arguments: retry, Exchange: s.RetryExchange, Key: q.Name},
			Decl{Name: q.Name + ".dead", Arguments: base(), Exchange: s.WorkExchange, Key: q.Name + ".dead"})
		if q.Poll > 0 {
			poll := dlx(base(), s.WorkExchange)
			poll["x-message-ttl"] = q.Poll.Milliseconds()
			out = append(out, Decl{Name: q.Name + ".poll", Arguments: poll, Exchange: s.PollExchange, Key: q.Name})
		}
	}
	return out
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
	for _, d := range Decls(s) {
		if _, err := ch.QueueDeclare(d.Name, true, false, false, false, d.Arguments); err != nil {
			return fmt.Errorf("declare queue %s: %w", d.Name, err)
		}
		if err := ch.QueueBind(d.Name, d.Key, d.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s with key %s: %w", d.Name, d.Exchange, d.Key, err)
		}
	}
	return nil
}
