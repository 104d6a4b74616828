package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// DefaultParallelism is how many requests each phase runs at once unless
// told otherwise.
const DefaultParallelism = 8

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
	// Mover, when set, moves the messages of the queues a moved block
	// renames (plan.Change.Move) into their new queues before deleting
	// them; without it KeepMessages serves, and a plan with such a move
	// and neither is refused before anything changes. It also serves as
	// the Counter when Counter and KeepMessages are nil.
	Mover *Mover
	// Observer, when set, hears of each change as it starts and finishes.
	Observer Observer
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Result counts what Apply did.
type Result struct {
	Added, Changed, Destroyed int
	// Kept counts the messages moved aside and back by KeepMessages.
	Kept int64
	// Moved counts the messages moved from renamed queues to their new
	// queues.
	Moved int64
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
	if opts.Mover != nil && opts.Counter == nil {
		opts.Counter = opts.Mover
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
			a.started(c)
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
	return causes(ctx, errs)
}

// causes joins the errors of one phase: those that stopped it, sorted, and
// then how many requests in flight were cancelled because of them (their
// own errors say only that they were cancelled, or that the broker could
// not be reached: blaming them would hide the cause).
func causes(ctx context.Context, errs []error) error {
	var real []error
	cancelled := 0
	for _, err := range errs {
		if ctx.Err() == nil && errors.Is(err, context.Canceled) {
			cancelled++
			continue
		}
		real = append(real, err)
	}
	if len(real) == 0 {
		return errors.Join(errs...)
	}
	sort.Slice(real, func(i, j int) bool { return real[i].Error() < real[j].Error() })
	if cancelled > 0 {
		real = append(real, fmt.Errorf("%s in flight %s cancelled because of %s", config.Plural(cancelled, "other change"),
			config.PluralForm(cancelled, "was", "were"), config.PluralForm(len(real), "this error", "these errors")))
	}
	return errors.Join(real...)
}

func (a *applier) started(c plan.Change) {
	if a.opts.Observer == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts.Observer.Started(c)
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
	if a.opts.Observer != nil {
		a.opts.Observer.Finished(c, skipped, err)
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
			if c.Move != nil {
				return false, a.moveDelete(ctx, c)
			}
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
