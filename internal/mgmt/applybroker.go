package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/plan"
)

// ApplyBroker is a Client as apply drives it: it implements apply.Broker
// with the Client's writes and turns the management API's refusals that
// apply acts upon into apply's errors. Every other error is the Client's
// own (*Error, or a one-line error for an unreachable API).
type ApplyBroker struct {
	c *Client
}

var _ apply.Broker = (*ApplyBroker)(nil)

// NewApplyBroker returns c as an apply.Broker.
func NewApplyBroker(c *Client) *ApplyBroker { return &ApplyBroker{c: c} }

// DeclareExchange declares the exchange (PUT).
func (b *ApplyBroker) DeclareExchange(ctx context.Context, vhost string, e plan.Exchange) error {
	return b.c.DeclareExchange(ctx, vhost, e)
}

// DeleteExchange deletes the exchange.
func (b *ApplyBroker) DeleteExchange(ctx context.Context, vhost, name string) error {
	return b.c.DeleteExchange(ctx, vhost, name)
}

// DeclareQueue declares the queue (PUT).
func (b *ApplyBroker) DeclareQueue(ctx context.Context, vhost string, q plan.Queue) error {
	return b.c.DeclareQueue(ctx, vhost, q)
}

// DeleteQueue deletes the queue. With ifEmpty, the management API's 400
// (the broker refused a queue that holds messages or has consumers) is an
// *apply.BrokerError of Kind apply.ErrNotEmpty, carrying the broker's
// words and the *Error.
func (b *ApplyBroker) DeleteQueue(ctx context.Context, vhost, name string, ifEmpty bool) error {
	err := b.c.DeleteQueue(ctx, vhost, name, ifEmpty)
	var me *Error
	if ifEmpty && errors.As(err, &me) && me.Status == http.StatusBadRequest {
		return &apply.BrokerError{Kind: apply.ErrNotEmpty, Reason: me.Reason, Err: err}
	}
	return err
}

// QueueCounts returns the counts of one queue as the management API last
// sampled them (GET /api/queues/{vhost}/{name}); found is false when the
// queue does not exist.
func (b *ApplyBroker) QueueCounts(ctx context.Context, vhost, name string) (counts apply.QueueCounts, found bool, err error) {
	var q struct {
		Ready          int64 `json:"messages_ready"`
		Unacknowledged int64 `json:"messages_unacknowledged"`
		Consumers      int64 `json:"consumers"`
	}
	op := fmt.Sprintf("read queue %s in vhost %q", name, vhost)
	err = b.c.getJSON(ctx, op, vhost, "queues/"+vhostPath(vhost)+"/"+url.PathEscape(name), nil, &q)
	if IsNotFound(err) {
		return apply.QueueCounts{}, false, nil
	}
	if err != nil {
		return apply.QueueCounts{}, false, err
	}
	return apply.QueueCounts{Ready: q.Ready, Unacknowledged: q.Unacknowledged, Consumers: q.Consumers}, true, nil
}

// DeclareBinding binds (POST).
func (b *ApplyBroker) DeclareBinding(ctx context.Context, vhost string, bi plan.Binding) error {
	return b.c.DeclareBinding(ctx, vhost, bi)
}

// DeleteBinding removes the binding.
func (b *ApplyBroker) DeleteBinding(ctx context.Context, vhost string, bi plan.Binding) error {
	return b.c.DeleteBinding(ctx, vhost, bi)
}

// PutPolicy creates or overwrites the policy.
func (b *ApplyBroker) PutPolicy(ctx context.Context, vhost string, p plan.Policy) error {
	return b.c.PutPolicy(ctx, vhost, p)
}

// DeletePolicy deletes the policy.
func (b *ApplyBroker) DeletePolicy(ctx context.Context, vhost, name string) error {
	return b.c.DeletePolicy(ctx, vhost, name)
}
