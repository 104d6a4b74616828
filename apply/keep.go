package apply

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// The flow of apply -keep-messages (Options.KeepMessages): a replaced
// queue's messages move aside to its temporary queue, the queue is
// replaced, and once the new queue is bound they move back (the Mover does
// the moving, move.go).

// consumerGone is how long apply waits for a consumer it just cancelled to
// leave a queue before counting it as someone else's.
const consumerGone = 3 * time.Second

// keepReplace replaces a queue keeping its messages: they go to the
// temporary queue (created if need be), the queue is deleted once empty and
// declared anew; moveBack brings them back once its bindings exist.
// Messages that reach the queue while it is emptied are moved as well; a
// consumer that appears stops the replace, the queue untouched but for the
// messages already in the temporary queue.
func (a *applier) keepReplace(ctx context.Context, c plan.Change) error {
	name := c.Before.Queue.Name
	temp := plan.KeepName(name)
	ready, cons, found, err := a.opts.KeepMessages.Count(ctx, name)
	if err != nil {
		return fmt.Errorf("check queue %s before replacing it: %w", name, err)
	}
	if !found {
		return a.b.DeclareQueue(ctx, a.vhost, *c.After.Queue)
	}
	if cons > 0 {
		return &UnsafeError{Vhost: a.vhost, Queues: []UnsafeQueue{{Name: name, Action: plan.Replace, Messages: ready, Consumers: cons, Keep: true}}}
	}
	declared := false
	declareTemp := func() error {
		if declared {
			return nil
		}
		tq := plan.Queue{Name: temp, Type: c.After.Queue.Type, Durable: true,
			Arguments: map[string]any{plan.GraphArg: a.p.Graph, plan.KeepArg: name}}
		if err := a.b.DeclareQueue(ctx, a.vhost, tq); err != nil {
			return fmt.Errorf("create the temporary queue for the messages of %s: %w", name, err)
		}
		declared = true
		a.mu.Lock()
		a.kept[name] = true
		a.mu.Unlock()
		return nil
	}
	for attempt := 1; ; attempt++ {
		if ready > 0 {
			if err := declareTemp(); err != nil {
				return err
			}
			n, err := a.opts.KeepMessages.Move(ctx, name, temp, MoveOptions{})
			a.opts.Logger.Debug("moved messages aside", "queue", name, "to", temp, "messages", n)
			if err != nil {
				return fmt.Errorf("%w\n(the messages moved so far wait in %s; the next dge apply -keep-messages moves them back)", err, temp)
			}
		}
		var cons int64
		ready, cons, err = a.deleteMoved(ctx, name, c.Before.Queue.Type)
		if err == nil && cons > 0 {
			err = &UnsafeError{Vhost: a.vhost, Queues: []UnsafeQueue{{Name: name, Action: plan.Replace, Messages: ready, Consumers: cons, Keep: true}}}
		}
		if err != nil {
			return fmt.Errorf("%w\n(the messages of %s moved so far wait in %s; the next dge apply -keep-messages moves them back)", err, name, temp)
		}
		if ready == 0 {
			break
		}
		if attempt == 3 {
			return fmt.Errorf("queue %s keeps receiving messages while apply empties it (%d now): stop the processes that publish to it, then run dge apply -keep-messages again\n(the messages moved so far wait in %s; the next dge apply -keep-messages moves them back)", name, ready, temp)
		}
	}
	return a.b.DeclareQueue(ctx, a.vhost, *c.After.Queue)
}

// deleteMoved deletes a queue that Move has just emptied, unless messages
// arrived since (it returns their count and leaves the queue) or it has
// consumers (it returns their count and leaves the queue). A classic queue
// is deleted with the broker's if-empty and if-unused; a quorum queue, which
// refuses those flags, after an exact count an instant before. The consumer
// Move used may linger for a moment after its cancel (a quorum queue applies
// the cancel through its log), so consumers are counted again for up to
// consumerGone before they count.
func (a *applier) deleteMoved(ctx context.Context, name, qtype string) (ready, consumers int64, err error) {
	check := func() (int64, int64, error) {
		deadline := time.Now().Add(consumerGone)
		for {
			ready, cons, _, err := a.mover().Count(ctx, name)
			if err != nil {
				return 0, 0, fmt.Errorf("check queue %s is empty before deleting it: %w", name, err)
			}
			if cons == 0 || time.Now().After(deadline) {
				return ready, cons, nil
			}
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if qtype == "classic" {
		err := a.b.DeleteQueue(ctx, a.vhost, name, true)
		if _, ok := notEmpty(err); ok {
			ready, cons, err := check()
			if err == nil && ready == 0 && cons == 0 {
				ready = 1 // refused a moment ago: move again, then retry
			}
			return ready, cons, err
		}
		return 0, 0, err
	}
	ready, cons, err := check()
	if err != nil || ready > 0 || cons > 0 {
		return ready, cons, err
	}
	return 0, 0, a.b.DeleteQueue(ctx, a.vhost, name, false)
}

// moveBack moves the messages waiting in temporary queues back to their
// queues, then deletes the temporary queues.
func (a *applier) moveBack(ctx context.Context) error {
	if a.opts.KeepMessages == nil {
		return nil
	}
	a.mu.Lock()
	names := make([]string, 0, len(a.kept))
	for n := range a.kept {
		names = append(names, n)
	}
	a.mu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		temp := plan.KeepName(name)
		if _, _, found, err := a.opts.KeepMessages.Count(ctx, temp); err != nil || !found {
			if err != nil {
				return fmt.Errorf("check temporary queue %s: %w", temp, err)
			}
			continue // finished by another apply
		}
		for attempt := 1; ; attempt++ {
			n, err := a.opts.KeepMessages.Move(ctx, temp, name, MoveOptions{})
			a.mu.Lock()
			a.res.Kept += n
			a.mu.Unlock()
			a.opts.Logger.Debug("moved messages back", "queue", name, "from", temp, "messages", n)
			if err != nil {
				return fmt.Errorf("%w; the rest wait in %s: run dge apply -keep-messages again to finish", err, temp)
			}
			// Only apply writes to a temporary queue, so its exact count
			// decides, whatever its type.
			ready, cons, err := a.deleteMoved(ctx, temp, "quorum")
			if err == nil && cons > 0 {
				err = fmt.Errorf("temporary queue %s has %s: stop them", temp, config.Plural(cons, "consumer"))
			}
			if err != nil {
				return fmt.Errorf("%w; then run dge apply -keep-messages again to finish", err)
			}
			if ready == 0 {
				break
			}
			if attempt == 3 {
				return fmt.Errorf("temporary queue %s still holds %d messages after moving them back to %s: run dge apply -keep-messages again to finish", temp, ready, name)
			}
		}
	}
	return nil
}
