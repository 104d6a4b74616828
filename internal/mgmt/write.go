package mgmt

import (
	"context"
	"fmt"
	"net/http"
	"reflect"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/dgehq/dge/plan"
)

func closeBody(res *http.Response) {
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
}

// DeclareExchange declares the exchange (PUT). Declaring an exchange that
// exists with the same properties changes nothing; with other properties
// the broker refuses and the error carries its reason.
func (c *Client) DeclareExchange(ctx context.Context, vhost string, e plan.Exchange) error {
	res, err := c.with(ctx).DeclareExchange(vhost, e.Name, rabbithole.ExchangeSettings{
		Type: e.Type, Durable: e.Durable, AutoDelete: e.AutoDelete, Arguments: copyMap(e.Arguments),
	})
	closeBody(res)
	return c.translate(fmt.Sprintf("declare exchange %s in vhost %q", e.Name, vhost), vhost, err)
}

// DeleteExchange deletes the exchange; one that is already gone counts as
// deleted.
func (c *Client) DeleteExchange(ctx context.Context, vhost, name string) error {
	res, err := c.with(ctx).DeleteExchange(vhost, name)
	closeBody(res)
	return c.translate(fmt.Sprintf("delete exchange %s in vhost %q", name, vhost), vhost, err)
}

// DeclareQueue declares the queue (PUT), its type in
// arguments["x-queue-type"] (a top-level type would create a classic
// queue).
func (c *Client) DeclareQueue(ctx context.Context, vhost string, q plan.Queue) error {
	res, err := c.with(ctx).DeclareQueue(vhost, q.Name, rabbithole.QueueSettings{
		Type: q.Type, Durable: q.Durable, AutoDelete: q.AutoDelete, Arguments: copyMap(q.Arguments),
	})
	closeBody(res)
	return c.translate(fmt.Sprintf("declare queue %s in vhost %q", q.Name, vhost), vhost, err)
}

// DeleteQueue deletes the queue; one that is already gone counts as
// deleted. With ifEmpty the delete carries if-empty=true and
// if-unused=true, so the broker itself refuses (400) a queue that holds
// messages or has consumers: use it for classic queues; quorum queues
// refuse those flags outright.
func (c *Client) DeleteQueue(ctx context.Context, vhost, name string, ifEmpty bool) error {
	var opts []rabbithole.QueueDeleteOptions
	if ifEmpty {
		opts = append(opts, rabbithole.QueueDeleteOptions{IfEmpty: true, IfUnused: true})
	}
	res, err := c.with(ctx).DeleteQueue(vhost, name, opts...)
	closeBody(res)
	return c.translate(fmt.Sprintf("delete queue %s in vhost %q", name, vhost), vhost, err)
}

// DeclareBinding binds (POST); binding twice is harmless.
func (c *Client) DeclareBinding(ctx context.Context, vhost string, b plan.Binding) error {
	res, err := c.with(ctx).DeclareBinding(vhost, rabbithole.BindingInfo{
		Source: b.Source, Destination: b.Destination, DestinationType: b.DestinationType,
		RoutingKey: b.RoutingKey, Arguments: copyMap(b.Arguments),
	})
	closeBody(res)
	return c.translate(fmt.Sprintf("declare %s in vhost %q", b.Address(), vhost), vhost, err)
}

// DeleteBinding removes the binding. It first lists the bindings between
// its source and destination for the binding's properties key (the
// definitions do not carry it); a binding already gone counts as deleted.
func (c *Client) DeleteBinding(ctx context.Context, vhost string, b plan.Binding) error {
	op := fmt.Sprintf("delete %s in vhost %q", b.Address(), vhost)
	rh := c.with(ctx)
	var list []rabbithole.BindingInfo
	var err error
	if b.DestinationType == "exchange" {
		list, err = rh.ListExchangeBindingsBetween(vhost, b.Source, b.Destination)
	} else {
		list, err = rh.ListQueueBindingsBetween(vhost, b.Source, b.Destination)
	}
	if err != nil {
		err = c.translate(op, vhost, err)
		if IsNotFound(err) {
			return nil
		}
		return err
	}
	for _, l := range list {
		if l.RoutingKey != b.RoutingKey || !reflect.DeepEqual(plan.NormalizeMap(l.Arguments), plan.NormalizeMap(b.Arguments)) {
			continue
		}
		l.DestinationType = b.DestinationType
		res, err := rh.DeleteBinding(vhost, l)
		closeBody(res)
		return c.translate(op, vhost, err)
	}
	return nil
}

// PutPolicy creates or overwrites the policy.
func (c *Client) PutPolicy(ctx context.Context, vhost string, p plan.Policy) error {
	res, err := c.with(ctx).PutPolicy(vhost, p.Name, rabbithole.Policy{
		Vhost: vhost, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo, Priority: p.Priority,
		Definition: rabbithole.PolicyDefinition(copyMap(p.Definition)),
	})
	closeBody(res)
	return c.translate(fmt.Sprintf("put policy %s in vhost %q", p.Name, vhost), vhost, err)
}

// DeletePolicy deletes the policy; one already gone counts as deleted.
func (c *Client) DeletePolicy(ctx context.Context, vhost, name string) error {
	res, err := c.with(ctx).DeletePolicy(vhost, name)
	closeBody(res)
	return c.translate(fmt.Sprintf("delete policy %s in vhost %q", name, vhost), vhost, err)
}

// copyMap returns a copy, so rabbit-hole (which adds x-queue-type) never
// writes into a plan's maps.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
