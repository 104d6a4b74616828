package plan

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/dgehq/dge/config"
)

// New diffs the desired topology against the live snapshot. It fails with
// a *ConflictError when a desired queue or exchange is held by a foreign
// object, or when an adopt name is stamped by another graph or is not an
// object the graph declares.
func New(want Objects, snap *Snapshot, opts Options) (*Plan, error) {
	o := newOwner(want.Owner)
	if err := conflicts(want, snap, o); err != nil {
		return nil, err
	}
	p := diff(want, snap, o, opts, false)
	p.Diagnostics = append(CheckPolicies(want, snap), p.Diagnostics...)
	return p, nil
}

// NewDestroy plans the removal of every object in the snapshot that the
// owner of want owns (stamped by its graph or adopted, and its dge.<graph>.
// policies). Only want's Owner and Vhost are used.
func NewDestroy(want Objects, snap *Snapshot, opts Options) (*Plan, error) {
	empty := Objects{Owner: want.Owner, Vhost: want.Vhost}
	o := newOwner(want.Owner)
	var errs []Conflict
	for _, n := range want.Owner.Adopt {
		errs = append(errs, adoptConflicts(n, snap, o)...)
	}
	if len(errs) > 0 {
		return nil, &ConflictError{Graph: want.Owner.Graph, Vhost: want.Vhost, Conflicts: errs}
	}
	return diff(empty, snap, o, opts, true), nil
}

// object is a broker object of one of the kinds a plan diffs.
type object interface {
	Exchange | Queue | Binding | Policy
	Address() string
}

// differ tells diffKind how to diff one kind of object.
type differ[T object] struct {
	kind Kind
	// key identifies an object: its name, or a binding's every field.
	key func(T) string
	// wrap puts an object in its kind's field of an Object.
	wrap func(*T) *Object
	// compare returns the action that turns the live object into the
	// desired one of the same key, "" when they match, and the attributes
	// that force a replace. nil means objects of the same key match.
	compare func(cur, want T) (Action, []string)
	// stale reports a desired object to create although a live one of its
	// key exists (the broker removes it with a rebuilt object); may be nil.
	stale func(T) bool
	// owned reports a live object the graph owns: deleted when not desired.
	owned func(T) bool
	// stats returns the counts of a queue a change deletes; nil for the
	// kinds that hold no messages.
	stats func(T) QueueStats
}

// diffKind appends to p the changes that turn the live objects of one kind
// into the desired ones: creates and replaces or updates in desired order,
// then deletes in live order. It returns the keys of the objects it creates
// or replaces, whose bindings are new.
func diffKind[T object](p *Plan, want, live []T, d differ[T]) (rebuilt map[string]bool) {
	rebuilt = map[string]bool{}
	byKey := map[string]T{}
	for _, cur := range live {
		byKey[d.key(cur)] = cur
	}
	wanted := map[string]bool{}
	for _, w := range want {
		k := d.key(w)
		wanted[k] = true
		cur, ok := byKey[k]
		if !ok || (d.stale != nil && d.stale(w)) {
			p.Changes = append(p.Changes, Change{Action: Create, Kind: d.kind, Address: w.Address(), After: d.wrap(&w)})
			rebuilt[k] = true
			continue
		}
		if d.compare == nil {
			continue
		}
		action, forced := d.compare(cur, w)
		if action == "" {
			continue
		}
		c := Change{Action: action, Kind: d.kind, Address: w.Address(), Before: d.wrap(&cur), After: d.wrap(&w), ForcedBy: forced}
		if action == Replace {
			rebuilt[k] = true
			if d.stats != nil {
				st := d.stats(cur)
				c.Messages, c.Consumers = st.Messages, st.Consumers
			}
		}
		p.Changes = append(p.Changes, c)
	}
	for _, cur := range live {
		if !d.owned(cur) || wanted[d.key(cur)] {
			continue
		}
		c := Change{Action: Delete, Kind: d.kind, Address: cur.Address(), Before: d.wrap(&cur)}
		if d.stats != nil {
			st := d.stats(cur)
			c.Messages, c.Consumers = st.Messages, st.Consumers
		}
		p.Changes = append(p.Changes, c)
	}
	return rebuilt
}

// replaceOn turns an attribute diff into a compare: any difference forces
// a replace.
func replaceOn[T object](attrs func(cur, want T) []string) func(cur, want T) (Action, []string) {
	return func(cur, want T) (Action, []string) {
		if forced := attrs(cur, want); len(forced) > 0 {
			return Replace, forced
		}
		return "", nil
	}
}

func diff(want Objects, snap *Snapshot, o owner, opts Options, destroy bool) *Plan {
	w := o.classify(snap)
	p := &Plan{
		FormatVersion: FormatVersion,
		DgeVersion:    opts.DgeVersion,
		Graph:         want.Owner.Graph,
		Vhost:         want.Vhost,
		Destroy:       destroy,
		Desired:       want,
	}
	p.PendingMoves = pendingMoves(want, snap, w)
	pending := map[string]bool{}
	for _, m := range p.PendingMoves {
		pending[m.Temporary] = true
	}
	stats := func(q Queue) QueueStats { return snap.Stats[q.Name] }

	rebuiltExch := diffKind(p, want.Exchanges, snap.Exchanges, differ[Exchange]{
		kind:    KindExchange,
		key:     func(e Exchange) string { return e.Name },
		wrap:    func(e *Exchange) *Object { return &Object{Exchange: e} },
		compare: replaceOn(exchangeDiff),
		owned:   func(e Exchange) bool { return w.exchanges[e.Name] },
	})
	rebuiltQueue := diffKind(p, want.Queues, snap.Queues, differ[Queue]{
		kind:    KindQueue,
		key:     func(q Queue) string { return q.Name },
		wrap:    func(q *Queue) *Object { return &Object{Queue: q} },
		compare: replaceOn(queueDiff),
		owned:   func(q Queue) bool { return w.queues[q.Name] && !pending[q.Name] },
		stats:   stats,
	})
	// A binding to or from a rebuilt object is gone with it.
	diffKind(p, want.Bindings, snap.Bindings, differ[Binding]{
		kind: KindBinding,
		key:  Binding.key,
		wrap: func(b *Binding) *Object { return &Object{Binding: b} },
		stale: func(b Binding) bool {
			return rebuiltExch[b.Source] || (b.DestinationType == "queue" && rebuiltQueue[b.Destination]) ||
				(b.DestinationType == "exchange" && rebuiltExch[b.Destination])
		},
		owned: w.binding,
	})
	diffKind(p, want.Policies, snap.Policies, differ[Policy]{
		kind: KindPolicy,
		key:  func(pol Policy) string { return pol.Name },
		wrap: func(pol *Policy) *Object { return &Object{Policy: pol} },
		compare: func(cur, want Policy) (Action, []string) {
			if reflect.DeepEqual(cur, want) {
				return "", nil
			}
			return Update, nil
		},
		owned: func(pol Policy) bool { return OwnsPolicy(o.Graph, pol.Name) },
	})

	p.Diagnostics = append(p.Diagnostics, markMoves(p, want)...)
	markOldKeys(p)
	sortChanges(p.Changes)
	p.LiveFingerprint = Fingerprint(want, snap)
	return p
}

// markMoves sets Move on the delete of each queue that a moved block
// renames to a desired queue, and warns of such a queue that has consumers:
// a program of the graph's older version still running, whose deliveries
// and later publishes the move would miss. A moved block whose source is
// gone changes nothing.
func markMoves(p *Plan, want Objects) []Diagnostic {
	desired := map[string]bool{}
	for _, q := range want.Queues {
		desired[q.Name] = true
	}
	byFrom := map[string]QueueMove{}
	for _, m := range want.Moves {
		if desired[m.To] && !desired[m.From] {
			byFrom[m.From] = m
		}
	}
	var diags []Diagnostic
	for i, c := range p.Changes {
		if c.Kind != KindQueue || c.Action != Delete {
			continue
		}
		m, ok := byFrom[c.Before.Queue.Name]
		if !ok {
			continue
		}
		p.Changes[i].Move = &m
		if c.Consumers > 0 {
			diags = append(diags, Diagnostic{
				Severity: SeverityWarning,
				Summary:  fmt.Sprintf("Queue %s is moved to %s but has %s", m.From, m.To, config.Plural(c.Consumers, "consumer")),
				Detail:   fmt.Sprintf("A program of an older version of the graph still consumes from %s, and may still publish to it. apply refuses to move a queue with consumers: stop the old program (deploy the new one), then run dge apply.", m.From),
				Queues:   []string{m.From},
			})
		}
	}
	return diags
}

// pendingMoves lists, in snapshot order, the owned temporary queues of
// apply -keep-messages that hold the messages of a desired queue.
func pendingMoves(want Objects, snap *Snapshot, w owned) []PendingMove {
	wanted := map[string]bool{}
	for _, q := range want.Queues {
		wanted[q.Name] = true
	}
	var out []PendingMove
	for _, cur := range snap.Queues {
		if of, ok := isTemporary(cur); ok && w.queues[cur.Name] && wanted[of] && !wanted[cur.Name] {
			out = append(out, PendingMove{Temporary: cur.Name, Queue: of, Messages: snap.Stats[cur.Name].Messages})
		}
	}
	return out
}

// sortChanges puts changes in execution order.
func sortChanges(cs []Change) {
	rank := func(c Change) int {
		if c.Action == Delete {
			return 10 - kindOrder[c.Kind]
		}
		return kindOrder[c.Kind]
	}
	sort.SliceStable(cs, func(i, j int) bool {
		ri, rj := rank(cs[i]), rank(cs[j])
		if ri != rj {
			return ri < rj
		}
		return cs[i].Address < cs[j].Address
	})
}

// withoutStamp returns args without the write-once ownership stamp, which
// never differs meaningfully: RabbitMQ ignores it on redeclaration.
func withoutStamp(args map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range args {
		if k != GraphArg {
			out[k] = v
		}
	}
	return out
}

func argsDiff(cur, want map[string]any) []string {
	c, w := withoutStamp(cur), withoutStamp(want)
	keys := map[string]bool{}
	for k := range c {
		keys[k] = true
	}
	for k := range w {
		keys[k] = true
	}
	var out []string
	for _, k := range sortedKeys(keys) {
		if !reflect.DeepEqual(c[k], w[k]) {
			out = append(out, "arguments."+k)
		}
	}
	return out
}

// exchangeDiff lists the attributes that differ; every one forces a
// replace (RabbitMQ cannot change an exchange in place).
func exchangeDiff(cur, want Exchange) []string {
	var out []string
	if cur.Type != want.Type {
		out = append(out, "type")
	}
	if cur.Durable != want.Durable {
		out = append(out, "durable")
	}
	if cur.AutoDelete != want.AutoDelete {
		out = append(out, "auto_delete")
	}
	if cur.Internal != want.Internal {
		out = append(out, "internal")
	}
	return append(out, argsDiff(cur.Arguments, want.Arguments)...)
}

// queueDiff lists the attributes that differ; every one forces a replace
// (queue type, durability and arguments are immutable).
func queueDiff(cur, want Queue) []string {
	var out []string
	if cur.Type != want.Type {
		out = append(out, "type")
	}
	if cur.Durable != want.Durable {
		out = append(out, "durable")
	}
	if cur.AutoDelete != want.AutoDelete {
		out = append(out, "auto_delete")
	}
	return append(out, argsDiff(cur.Arguments, want.Arguments)...)
}
