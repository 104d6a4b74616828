package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dgehq/dge/plan"
)

// DefaultParallelism is how many requests each phase runs at once unless
// told otherwise.
const DefaultParallelism = 8

// consumerGone is how long apply waits for a consumer it just cancelled to
// leave a queue before counting it as someone else's.
const consumerGone = 3 * time.Second

// Options tunes Apply.
type Options struct {
	// Parallelism bounds the requests in flight within a phase (default
	// DefaultParallelism).
	Parallelism int
	// AllowMessageLoss lets apply delete or replace queues that hold
	// messages or have consumers.
	AllowMessageLoss bool
	// Counter, when set, gives exact counts before a queue is deleted;
	// without it apply relies on the Broker's QueueCounts (the management
	// API's statistics, which lag by up to 5 seconds).
	Counter Counter
	// KeepMessages, when set, keeps the messages of every queue the plan
	// replaces (apply -keep-messages): it moves them to a temporary queue
	// (KeepName), deletes and re-creates the queue, and once the queue is
	// bound again moves them back and deletes the temporary queue. It
	// finishes the same way the moves an interrupted apply left (the
	// plan's PendingMoves). A replaced queue with consumers is refused:
	// their unacknowledged deliveries would be lost with the queue. It also
	// serves as the Counter when Counter is nil.
	KeepMessages *Mover
	// Progress, when set, is called after each change, one call at a time.
	Progress func(c plan.Change, skipped bool, err error)
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Result counts what Apply did.
type Result struct {
	Added, Changed, Destroyed int
	// Kept counts the messages moved aside and back by KeepMessages.
	Kept int64
}

// UnsafeQueue is a queue apply refused to delete or replace.
type UnsafeQueue struct {
	Name      string
	Action    plan.Action
	Messages  int64
	Consumers int64
	// Keep is true for a queue apply -keep-messages would replace keeping
	// its messages, refused for its consumers.
	Keep bool
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
	keep, lose := false, false
	for _, q := range e.Queues {
		if q.Keep {
			keep = true
			fmt.Fprintf(&sb, "\n  replace queue %s keeping its messages: it has %s, whose unacknowledged deliveries would be lost with the queue", q.Name, count(q.Consumers, "consumer"))
			continue
		}
		lose = true
		verb := "delete"
		if q.Action == plan.Replace {
			verb = "replace"
		}
		fmt.Fprintf(&sb, "\n  %s queue %s: it holds %s and has %s", verb, q.Name, count(q.Messages, "message"), count(q.Consumers, "consumer"))
	}
	if keep {
		sb.WriteString("\nstop the processes that consume from the queues to replace (the graph's nodes), then run dge apply -keep-messages again")
	}
	if lose {
		sb.WriteString("\ndrain the queues and stop their consumers, pass -keep-messages to keep the messages of replaced queues, or pass -allow-message-loss to accept losing the messages")
	}
	return sb.String()
}

func count(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type applier struct {
	b     Broker
	p     *plan.Plan
	opts  Options
	mu    sync.Mutex
	res   Result
	gone  map[string]bool // "queue name" / "exchange name" removed or rebuilt by this plan
	vhost string
	kept  map[string]bool // queues whose messages wait in their temporary queue; under mu
}

// Apply executes the plan's changes against the broker in the plan's
// order, phase by phase (exchanges, queues, bindings, policies, then the
// deletes in reverse), each phase with bounded parallelism.
//
// Before changing anything it counts the messages and consumers of every
// queue the plan deletes or replaces and refuses with *UnsafeError unless
// AllowMessageLoss; it checks again just before each such delete (classic
// queues are deleted with if-empty and if-unused, so the broker itself
// refuses; quorum queues refuse those flags, so apply counts them an instant
// before). Every step is idempotent: a declare of an existing object changes
// nothing and a delete that finds nothing counts as done, so an interrupted
// apply converges when run again. On error, the phase in progress finishes
// its requests in flight and later phases do not start.
//
// A plan with error diagnostics (a foreign policy that would govern the
// graph's queues) is refused with its *plan.DiagnosticError before
// anything changes. With KeepMessages, the messages of replaced queues are
// moved aside and back (see Options.KeepMessages); the moves back run after
// the creates, binds and policy updates, before the deletes.
func Apply(ctx context.Context, b Broker, p *plan.Plan, opts Options) (Result, error) {
	if err := p.Err(); err != nil {
		return Result{}, err
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KeepMessages != nil && opts.Counter == nil {
		opts.Counter = opts.KeepMessages
	}
	a := &applier{b: b, p: p, opts: opts, gone: map[string]bool{}, vhost: p.Vhost, kept: map[string]bool{}}
	if opts.KeepMessages != nil {
		for _, m := range p.PendingMoves {
			a.kept[m.Queue] = true
		}
	}
	for _, c := range p.Changes {
		if c.Action == plan.Delete || c.Action == plan.Replace {
			switch c.Kind {
			case plan.KindQueue:
				a.gone["queue "+c.Before.Queue.Name] = true
			case plan.KindExchange:
				a.gone["exchange "+c.Before.Exchange.Name] = true
			}
		}
	}
	if err := a.preflight(ctx); err != nil {
		return Result{}, err
	}
	finished := false
	for _, phase := range phases(p.Changes) {
		if !finished && phase[0].Action == plan.Delete {
			finished = true
			if err := a.moveBack(ctx); err != nil {
				return a.res, err
			}
		}
		if err := a.run(ctx, phase); err != nil {
			return a.res, err
		}
	}
	if !finished {
		if err := a.moveBack(ctx); err != nil {
			return a.res, err
		}
	}
	return a.res, nil
}

// phases splits the changes (already in execution order) into runs that
// may execute in parallel: same kind, same delete-or-not.
func phases(cs []plan.Change) [][]plan.Change {
	var out [][]plan.Change
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].Kind == cs[i].Kind && (cs[j].Action == plan.Delete) == (cs[i].Action == plan.Delete) {
			j++
		}
		out = append(out, cs[i:j])
		i = j
	}
	return out
}

func (a *applier) run(ctx context.Context, phase []plan.Change) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	var mu sync.Mutex
	var errs []error
	for _, c := range phase {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			skipped, err := a.one(gctx, c)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			a.report(c, skipped, err)
			return err
		})
	}
	g.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func (a *applier) report(c plan.Change, skipped bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil && !skipped {
		switch c.Action {
		case plan.Create:
			a.res.Added++
		case plan.Update:
			a.res.Changed++
		case plan.Replace:
			a.res.Added++
			a.res.Destroyed++
		case plan.Delete:
			a.res.Destroyed++
		}
	}
	if err == nil && skipped && c.Action == plan.Delete {
		a.res.Destroyed++ // removed by the broker with its queue or exchange
	}
	if a.opts.Progress != nil {
		a.opts.Progress(c, skipped, err)
	}
}

// one executes one change; skipped is true when there was nothing to do.
func (a *applier) one(ctx context.Context, c plan.Change) (skipped bool, err error) {
	vh := a.vhost
	a.opts.Logger.Debug("apply", "action", string(c.Action), "address", c.Address)
	switch c.Kind {
	case plan.KindExchange:
		switch c.Action {
		case plan.Create:
			return false, a.b.DeclareExchange(ctx, vh, *c.After.Exchange)
		case plan.Replace:
			if err := a.b.DeleteExchange(ctx, vh, c.Before.Exchange.Name); err != nil {
				return false, err
			}
			return false, a.b.DeclareExchange(ctx, vh, *c.After.Exchange)
		case plan.Delete:
			return false, a.b.DeleteExchange(ctx, vh, c.Before.Exchange.Name)
		}
	case plan.KindQueue:
		switch c.Action {
		case plan.Create:
			return false, a.b.DeclareQueue(ctx, vh, *c.After.Queue)
		case plan.Replace:
			if a.opts.KeepMessages != nil {
				return false, a.keepReplace(ctx, c)
			}
			if err := a.deleteQueue(ctx, c); err != nil {
				return false, err
			}
			return false, a.b.DeclareQueue(ctx, vh, *c.After.Queue)
		case plan.Delete:
			return false, a.deleteQueue(ctx, c)
		}
	case plan.KindBinding:
		switch c.Action {
		case plan.Create:
			return false, a.b.DeclareBinding(ctx, vh, *c.After.Binding)
		case plan.Delete:
			b := *c.Before.Binding
			if a.gone["exchange "+b.Source] || a.gone[b.DestinationType+" "+b.Destination] {
				return true, nil // the broker drops it with its source or destination
			}
			return false, a.b.DeleteBinding(ctx, vh, b)
		}
	case plan.KindPolicy:
		switch c.Action {
		case plan.Create, plan.Update:
			return false, a.b.PutPolicy(ctx, vh, *c.After.Policy)
		case plan.Delete:
			return false, a.b.DeletePolicy(ctx, vh, c.Before.Policy.Name)
		}
	}
	return false, fmt.Errorf("%s: action %q is not valid for a %s (is the plan file corrupt? run dge plan again)", c.Address, c.Action, c.Kind)
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
		keep := c.Action == plan.Replace && a.opts.KeepMessages != nil
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
			ready, cons, _, err := a.opts.KeepMessages.Count(ctx, name)
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
				err = fmt.Errorf("temporary queue %s has %s: stop them", temp, count(cons, "consumer"))
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
