package brokertest

import (
	"fmt"

	"github.com/dgehq/dge/topology"
	amqp "github.com/rabbitmq/amqp091-go"
)

// GraphArg is the ownership stamp dge apply writes on every queue and
// exchange it creates.
const GraphArg = "x-dge-graph"

// Declare declares over AMQP, on conn, the objects dge apply would create
// for graph g: package topology's exchanges, queues and bindings, with the
// ownership stamp and the queue arguments dge apply gives them. It is for
// tests that must not depend on the plan and apply packages. What dge apply
// keeps in policies so that it can change it in place (the retry and poll
// delays, the delivery limit) is given as queue arguments here, which the
// runtime cannot tell apart.
func Declare(conn *amqp.Connection, g topology.Params) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	spec := topology.Build(g)
	for _, x := range spec.Exchanges {
		if err := ch.ExchangeDeclare(x, "direct", true, false, false, false, amqp.Table{GraphArg: g.Name}); err != nil {
			return fmt.Errorf("declare exchange %s: %w", x, err)
		}
	}
	args := DeclaredArguments(g)
	for _, q := range spec.Queues {
		if _, err := ch.QueueDeclare(q.Name, true, false, false, false, args[q.Name]); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.Name, err)
		}
	}
	for _, b := range spec.Bindings {
		if err := ch.QueueBind(b.Queue, b.Key, b.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s with key %s: %w", b.Queue, b.Exchange, b.Key, err)
		}
	}
	return nil
}

// DeclaredArguments returns, by queue name, the arguments Declare gives each
// queue of g.
func DeclaredArguments(g topology.Params) map[string]amqp.Table {
	spec := topology.Build(g)
	out := map[string]amqp.Table{}
	for _, q := range spec.Queues {
		t := amqp.Table(topology.Arguments(q, spec.Quorum()))
		t[GraphArg] = g.Name
		if spec.Quorum() {
			t["x-queue-type"] = topology.Quorum
		}
		if q.TTL > 0 {
			t["x-message-ttl"] = q.TTL.Milliseconds()
		}
		if q.DeliveryLimit > 0 {
			t["x-delivery-limit"] = int64(q.DeliveryLimit)
		}
		out[q.Name] = t
	}
	return out
}
