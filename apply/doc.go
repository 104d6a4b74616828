// Package apply executes a plan.Plan against a RabbitMQ vhost through a
// Broker.
//
// apply owns the interfaces it drives and the errors it acts upon: Broker
// (declares, deletes and the management API's queue counts), Counter (exact
// counts) and BrokerError with ErrNotEmpty. It imports no adapter: dge wires
// internal/mgmt's ApplyBroker (the management HTTP API) and
// internal/amqpcount's Counter (an AMQP passive queue.declare) into it, and
// code outside this module can implement the same interfaces. The Mover,
// plain amqp091-go, lives here because apply -keep-messages is apply's own
// procedure.
//
// Changes run in the plan's order, one phase per kind: exchanges, queues,
// bindings and policies are created, replaced or updated in that order,
// then deletes run in reverse (policies, bindings, queues, exchanges).
// Within a phase requests run with bounded parallelism. Every step is
// idempotent, so an interrupted apply converges when run again, and two
// applies of the same graph at once both end converged. An Observer hears of
// each change as it starts and finishes, to show progress.
//
// Safety: apply never deletes or replaces a queue that holds messages or
// has consumers unless Options.AllowMessageLoss is set. It checks every such
// queue before changing anything, and again just before each delete:
// classic queues are deleted with if-empty and if-unused, so the broker
// refuses atomically; quorum queues refuse those flags, so apply counts
// them an instant before deleting, with the management API (ready,
// unacknowledged, consumers; statistics that may lag by 5 s; the Broker's
// QueueCounts) and, when a Counter is given, an AMQP passive queue.declare
// for the exact ready and consumer counts. A message published between that count and the delete
// of a quorum queue can still be lost: stop the producers of a node before
// removing it.
//
// Keeping messages: with Options.KeepMessages (apply -keep-messages) a
// queue the plan replaces keeps its messages. A Mover moves them over AMQP
// to a temporary queue (<queue>.dge-keep), the queue is deleted and
// re-created, and once its bindings exist they are moved back. Every move
// publishes a copy with publisher confirms and acknowledges the original
// only after its confirm, so a crash duplicates at most and never loses; an
// interrupted apply leaves the temporary queue, which the next
// apply -keep-messages finishes. A queue with consumers is refused.
//
// A plan with error diagnostics (a foreign policy that would govern the
// graph's queues) is refused before anything changes.
package apply
