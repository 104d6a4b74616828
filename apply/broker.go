package apply

import (
	"context"
	"errors"

	"github.com/dgehq/dge/plan"
)

// Broker is what apply needs from the broker to change a vhost's
// topology. internal/mgmt implements it over RabbitMQ's management API
// (mgmt.NewApplyBroker); any other implementation works the same, as long
// as it keeps the contract of each method.
//
// Errors: a Broker's errors end up in what dge prints, so they say what to
// do and never hold a password. The one refusal apply acts upon, a queue
// that cannot be deleted because it holds messages or has consumers, is
// reported as a *BrokerError whose Kind is ErrNotEmpty; every other error
// stops the phase in progress.
type Broker interface {
	// DeclareExchange creates the exchange; declaring one that exists
	// with the same properties changes nothing.
	DeclareExchange(ctx context.Context, vhost string, e plan.Exchange) error
	// DeleteExchange deletes the exchange.
	DeleteExchange(ctx context.Context, vhost, name string) error
	// DeclareQueue creates the queue; declaring one that exists with the
	// same properties changes nothing.
	DeclareQueue(ctx context.Context, vhost string, q plan.Queue) error
	// DeleteQueue deletes the queue. With ifEmpty the broker itself
	// refuses, atomically, a queue that holds messages or has consumers,
	// and DeleteQueue returns a *BrokerError of Kind ErrNotEmpty (apply
	// asks it only of classic queues: quorum queues refuse the flags).
	DeleteQueue(ctx context.Context, vhost, name string, ifEmpty bool) error
	// QueueCounts returns a queue's counts as the broker last sampled
	// them; found is false when the queue does not exist.
	QueueCounts(ctx context.Context, vhost, name string) (counts QueueCounts, found bool, err error)
	// DeclareBinding binds; binding twice is harmless.
	DeclareBinding(ctx context.Context, vhost string, b plan.Binding) error
	// DeleteBinding removes the binding.
	DeleteBinding(ctx context.Context, vhost string, b plan.Binding) error
	// PutPolicy creates or overwrites the policy.
	PutPolicy(ctx context.Context, vhost string, p plan.Policy) error
	// DeletePolicy deletes the policy.
	DeletePolicy(ctx context.Context, vhost, name string) error
}

// QueueCounts are a queue's counts as a Broker reports them. The
// management API samples them every 5 s, so they may lag; a Counter gives
// exact ready and consumer counts.
type QueueCounts struct {
	Ready, Unacknowledged, Consumers int64
}

// Counter counts a queue's ready messages and consumers exactly, at the
// moment of asking (an AMQP passive queue.declare does: internal/amqpcount
// implements it, and so does Mover). found is false when the queue does not
// exist.
type Counter interface {
	Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error)
}

// ErrNotEmpty is the Kind of a *BrokerError for a queue the broker refused
// to delete because it holds messages or has consumers.
var ErrNotEmpty = errors.New("the queue holds messages or has consumers")

// BrokerError is a refusal from the broker that apply acts upon: Kind says
// which (ErrNotEmpty), Reason holds the broker's own words for messages,
// and Err, when set, is the Broker implementation's full error, whose text
// Error returns. errors.Is and errors.As see both Kind and Err.
type BrokerError struct {
	Kind   error
	Reason string // the broker's own words, verbatim, without credentials
	Err    error
}

func (e *BrokerError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	msg := "the broker refused"
	if e.Kind != nil {
		msg = e.Kind.Error()
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns Kind and Err.
func (e *BrokerError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
