package apply

import (
	"context"
	"fmt"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// The flow of a moved block: the plan deletes the renamed queue with its
// Move set (plan.Change.Move); apply creates the new queue as any other,
// then, in the delete phase, moves the old queue's messages into it (the
// Mover, move.go) and deletes the old queue once empty.

// mover returns the Mover that moves messages: Options.Mover, else
// Options.KeepMessages; nil when there is none.
func (a *applier) mover() *Mover {
	if a.opts.Mover != nil {
		return a.opts.Mover
	}
	return a.opts.KeepMessages
}

// moveDelete moves the messages of a renamed queue to its new queue, then
// deletes it once empty under the safety rule: a queue with consumers is
// refused, messages that arrive while it is emptied are moved as well (up
// to three rounds). A queue already gone counts as done, so an interrupted
// apply converges when run again.
func (a *applier) moveDelete(ctx context.Context, c plan.Change) error {
	name, mv := c.Before.Queue.Name, c.Move
	m := a.mover()
	if m == nil {
		return fmt.Errorf("queue %s is renamed to %s, and moving its messages needs an AMQP connection, which apply was not given: set DGE_AMQP_URL to the broker's AMQP URL, then run dge apply again", name, mv.To)
	}
	unsafe := func(msgs, cons int64) error {
		return &UnsafeError{Vhost: a.vhost, Queues: []UnsafeQueue{{Name: name, Action: plan.Delete, Messages: msgs, Consumers: cons, MoveTo: mv.To}}}
	}
	ready, cons, found, err := m.Count(ctx, name)
	if err != nil {
		return fmt.Errorf("check queue %s before moving its messages to %s: %w", name, mv.To, err)
	}
	if !found {
		return nil
	}
	if cons > 0 {
		return unsafe(ready, cons)
	}
	for attempt := 1; ; attempt++ {
		if ready > 0 {
			n, err := m.Move(ctx, name, mv.To, MoveOptions{Exchange: mv.Exchange, RoutingKey: mv.RoutingKey})
			a.mu.Lock()
			a.res.Moved += n
			a.mu.Unlock()
			a.opts.Logger.Debug("moved messages of a renamed queue", "queue", name, "to", mv.To, "messages", n)
			if err != nil {
				return fmt.Errorf("%w\n(the rest wait in %s: run dge apply again to finish the move)", err, name)
			}
		}
		var cons int64
		ready, cons, err = a.deleteMoved(ctx, name, c.Before.Queue.Type)
		if err == nil && cons > 0 {
			err = unsafe(ready, cons)
		}
		if err != nil {
			return fmt.Errorf("%w\n(the messages not moved yet wait in %s: run dge apply again to finish the move)", err, name)
		}
		if ready == 0 {
			return nil
		}
		if attempt == 3 {
			return fmt.Errorf("queue %s keeps receiving messages while apply moves them to %s (%s now): stop the processes of the graph's older version that publish to it, then run dge apply again", name, mv.To, config.Plural(ready, "message"))
		}
	}
}
