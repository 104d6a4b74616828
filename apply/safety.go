package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// The safety rule: apply deletes or replaces no queue that holds messages
// or has consumers, unless told to. preflight checks every such queue before
// anything changes; deleteQueue checks again an instant before each delete.

// UnsafeQueue is a queue apply refused to delete or replace.
type UnsafeQueue struct {
	Name      string
	Action    plan.Action
	Messages  int64
	Consumers int64
	// Keep is true for a queue apply -keep-messages would replace keeping
	// its messages, refused for its consumers.
	Keep bool
	// MoveTo is the new queue of a queue renamed by a moved block, refused
	// for its consumers.
	MoveTo string
}

// UnsafeError refuses a plan that would delete or replace queues holding
// messages or with consumers. It lists every such queue with its counts.
type UnsafeError struct {
	Vhost  string
	Queues []UnsafeQueue
}

func (e *UnsafeError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "refusing to lose messages in vhost %q:", e.Vhost)
	keep, lose, replace, move := false, false, false, false
	for _, q := range e.Queues {
		if q.MoveTo != "" {
			move = true
			fmt.Fprintf(&sb, "\n  move the messages of queue %s to %s: it has %s, a program of the graph's older version that may still publish to it", q.Name, q.MoveTo, config.Plural(q.Consumers, "consumer"))
			continue
		}
		if q.Keep {
			keep = true
			fmt.Fprintf(&sb, "\n  replace queue %s keeping its messages: it has %s, whose unacknowledged deliveries would be lost with the queue", q.Name, config.Plural(q.Consumers, "consumer"))
			continue
		}
		lose = true
		verb := "delete"
		if q.Action == plan.Replace {
			verb, replace = "replace", true
		}
		fmt.Fprintf(&sb, "\n  %s queue %s: it holds %s and has %s", verb, q.Name, config.Plural(q.Messages, "message"), config.Plural(q.Consumers, "consumer"))
		if plan.StateQueue(q.Name) && q.Messages > 0 {
			sb.WriteString(": it is a gather's state queue, whose messages are the checkpoints of unfinished splits (what the gather folded, of items already acknowledged); losing them, those splits never complete")
		}
	}
	if keep {
		sb.WriteString("\nstop the processes that consume from the queues to replace (the graph's nodes), then run dge apply -keep-messages again")
	}
	if move {
		sb.WriteString("\nstop the programs that still consume from the renamed queues (deploy the new version of the graph first), then run dge apply again")
	}
	// -keep-messages replaces queues keeping their messages: it is no
	// advice for deletes, and no flag of destroy or of a destroy plan.
	switch {
	case lose && replace:
		sb.WriteString("\ndrain the queues and stop their consumers, pass -keep-messages to keep the messages of replaced queues, or pass -allow-message-loss to accept losing the messages")
	case lose:
		sb.WriteString("\ndrain the queues and stop their consumers, or pass -allow-message-loss to accept losing the messages")
	}
	return sb.String()
}

// deleteQueue deletes the live queue of a delete or replace change under
// the safety rule.
func (a *applier) deleteQueue(ctx context.Context, c plan.Change) error {
	q := c.Before.Queue
	if a.opts.AllowMessageLoss {
		return a.b.DeleteQueue(ctx, a.vhost, q.Name, false)
	}
	return a.deleteIfEmpty(ctx, *q, c.Action)
}

// deleteIfEmpty deletes a queue only if it holds no messages and has no
// consumers: classic queues with the broker's if-empty and if-unused, quorum
// queues (which refuse those flags) by counting them just before.
func (a *applier) deleteIfEmpty(ctx context.Context, q plan.Queue, action plan.Action) error {
	if q.Type == "classic" {
		err := a.b.DeleteQueue(ctx, a.vhost, q.Name, true)
		if be, ok := notEmpty(err); ok {
			msgs, cons, _, cerr := a.counts(ctx, q.Name)
			if cerr != nil {
				msgs, cons = 0, 0
			}
			return fmt.Errorf("%w (the broker said: %s)", &UnsafeError{Vhost: a.vhost, Queues: []UnsafeQueue{{Name: q.Name, Action: action, Messages: msgs, Consumers: cons}}}, be.Reason)
		}
		return err
	}
	msgs, cons, found, err := a.counts(ctx, q.Name)
	if err != nil {
		return fmt.Errorf("check queue %s is empty before deleting it: %w", q.Name, err)
	}
	if !found {
		return nil
	}
	if msgs > 0 || cons > 0 {
		return &UnsafeError{Vhost: a.vhost, Queues: []UnsafeQueue{{Name: q.Name, Action: action, Messages: msgs, Consumers: cons}}}
	}
	return a.b.DeleteQueue(ctx, a.vhost, q.Name, false)
}

// notEmpty returns the broker's refusal to delete a queue that holds
// messages or has consumers, if err is one.
func notEmpty(err error) (*BrokerError, bool) {
	var be *BrokerError
	if errors.As(err, &be) && errors.Is(be.Kind, ErrNotEmpty) {
		return be, true
	}
	return nil, false
}

// counts returns a queue's messages (ready and unacknowledged) and
// consumers. The management API gives all three, sampled up to 5 s ago;
// the Counter, when there is one, replaces the ready count and the
// consumer count by exact ones.
func (a *applier) counts(ctx context.Context, name string) (msgs, consumers int64, found bool, err error) {
	c, found, err := a.b.QueueCounts(ctx, a.vhost, name)
	if err != nil || !found {
		return 0, 0, found, err
	}
	ready, consumers := c.Ready, c.Consumers
	if a.opts.Counter != nil {
		r, cons, ok, err := a.opts.Counter.Count(ctx, name)
		if err != nil {
			return 0, 0, false, err
		}
		if !ok {
			return 0, 0, false, nil
		}
		ready, consumers = r, cons
	}
	return ready + c.Unacknowledged, consumers, true, nil
}

// preflight refuses the whole plan, before any change, when a queue it
// deletes or replaces holds messages or has consumers now (unless
// AllowMessageLoss), or when a queue it replaces keeping its messages has
// consumers.
func (a *applier) preflight(ctx context.Context) error {
	var (
		mu     sync.Mutex
		unsafe []UnsafeQueue
		errs   []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	for _, c := range a.p.Changes {
		if c.Kind != plan.KindQueue || (c.Action != plan.Delete && c.Action != plan.Replace) {
			continue
		}
		keep := (c.Action == plan.Replace && a.opts.KeepMessages != nil) || c.Move != nil
		if c.Move != nil && a.mover() == nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("queue %s is renamed to %s, and moving its messages needs an AMQP connection, which apply was not given: set DGE_AMQP_URL to the broker's AMQP URL, then run dge apply again", c.Before.Queue.Name, c.Move.To))
			mu.Unlock()
			continue
		}
		if a.opts.AllowMessageLoss && !keep {
			continue
		}
		g.Go(func() error {
			name := c.Before.Queue.Name
			msgs, cons, found, err := a.counts(gctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("check queue %s is empty before deleting it: %w", name, err))
			case keep && found && cons > 0 && c.Move != nil:
				unsafe = append(unsafe, UnsafeQueue{Name: name, Action: c.Action, Messages: msgs, Consumers: cons, MoveTo: c.Move.To})
			case keep && found && cons > 0:
				unsafe = append(unsafe, UnsafeQueue{Name: name, Action: c.Action, Messages: msgs, Consumers: cons, Keep: true})
			case !keep && found && (msgs > 0 || cons > 0):
				unsafe = append(unsafe, UnsafeQueue{Name: name, Action: c.Action, Messages: msgs, Consumers: cons})
			}
			return nil
		})
	}
	g.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(unsafe) > 0 {
		sort.Slice(unsafe, func(i, j int) bool { return unsafe[i].Name < unsafe[j].Name })
		return &UnsafeError{Vhost: a.vhost, Queues: unsafe}
	}
	return nil
}
