package plan

import (
	"fmt"
	"sort"
	"strings"
)

// Conflict is a desired object whose name a foreign object holds.
type Conflict struct {
	Kind   Kind
	Name   string
	Reason string // "is not stamped with x-dge-graph", "belongs to graph \"other\"", ...
	Fix    string
}

// ConflictError is returned by New when objects the graph needs, or names
// it adopts, are held by objects it does not own. It lists every one.
type ConflictError struct {
	Graph     string
	Vhost     string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "graph %q cannot manage %d object(s) in vhost %q:", e.Graph, len(e.Conflicts), e.Vhost)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&sb, "\n  %s %q %s; %s", c.Kind, c.Name, c.Reason, c.Fix)
	}
	return sb.String()
}

// owner classifies live queues and exchanges.
type owner struct {
	Owner
	adopt map[string]bool
}

func newOwner(o Owner) owner {
	a := map[string]bool{}
	for _, n := range o.Adopt {
		a[n] = true
	}
	return owner{Owner: o, adopt: a}
}

// owns reports whether an object with these arguments belongs to the graph,
// and if not, why.
func (o owner) owns(name string, args map[string]any) (bool, string) {
	v, stamped := args[GraphArg]
	if !stamped {
		if o.adopt[name] {
			return true, ""
		}
		return false, "exists and is not stamped with " + GraphArg
	}
	if s, ok := v.(string); ok && s == o.Graph {
		return true, ""
	}
	return false, fmt.Sprintf("belongs to graph %s (stamped %s)", formatValue(v), GraphArg)
}

// owned holds the names of the live exchanges and queues a graph owns.
type owned struct {
	exchanges map[string]bool
	queues    map[string]bool
}

// classify finds the exchanges and queues of the snapshot that o owns.
func (o owner) classify(s *Snapshot) owned {
	w := owned{exchanges: map[string]bool{}, queues: map[string]bool{}}
	for _, e := range s.Exchanges {
		if ok, _ := o.owns(e.Name, e.Arguments); ok {
			w.exchanges[e.Name] = true
		}
	}
	for _, q := range s.Queues {
		if ok, _ := o.owns(q.Name, q.Arguments); ok {
			w.queues[q.Name] = true
		}
	}
	return w
}

// binding reports whether a live binding belongs to the graph: its source
// and its destination are owned.
func (w owned) binding(b Binding) bool {
	if !w.exchanges[b.Source] {
		return false
	}
	if b.DestinationType == "exchange" {
		return w.exchanges[b.Destination]
	}
	return w.queues[b.Destination]
}

// conflicts returns a *ConflictError listing, by kind and name, every adopt
// name the graph cannot adopt and every desired queue or exchange a
// foreign object holds; nil when there is none.
func conflicts(want Objects, snap *Snapshot, o owner) error {
	cs := adoptListConflicts(want, snap, o)
	cs = append(cs, foreignConflicts(want, snap, o)...)
	if len(cs) == 0 {
		return nil
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Kind != cs[j].Kind {
			return cs[i].Kind < cs[j].Kind
		}
		return cs[i].Name < cs[j].Name
	})
	return &ConflictError{Graph: want.Owner.Graph, Vhost: want.Vhost, Conflicts: cs}
}

// adoptListConflicts checks each adopt name: the graph must declare it, and
// no other graph may have stamped it.
func adoptListConflicts(want Objects, snap *Snapshot, o owner) []Conflict {
	var cs []Conflict
	declared := map[string]bool{}
	for _, e := range want.Exchanges {
		declared[e.Name] = true
	}
	for _, q := range want.Queues {
		declared[q.Name] = true
	}
	for _, n := range want.Owner.Adopt {
		if !declared[n] {
			cs = append(cs, Conflict{Kind: "adopt", Name: n,
				Reason: "is named in adopt but the graph declares no queue or exchange of that name",
				Fix:    "remove it from the broker block's adopt list (dge only adopts objects the graph needs)"})
		}
		cs = append(cs, adoptConflicts(n, snap, o)...)
	}
	return cs
}

// adoptConflicts reports the live objects called name that another graph
// stamped: they can never be adopted.
func adoptConflicts(name string, snap *Snapshot, o owner) []Conflict {
	var out []Conflict
	check := func(kind Kind, args map[string]any) {
		if v, ok := args[GraphArg]; ok && v != o.Graph {
			out = append(out, Conflict{Kind: kind, Name: name,
				Reason: fmt.Sprintf("is named in adopt but belongs to graph %s", formatValue(v)),
				Fix:    "objects stamped by another graph can never be adopted: remove it from the broker block's adopt list and rename the queue in the graph"})
		}
	}
	for _, e := range snap.Exchanges {
		if e.Name == name {
			check(KindExchange, e.Arguments)
		}
	}
	for _, q := range snap.Queues {
		if q.Name == name {
			check(KindQueue, q.Arguments)
		}
	}
	return out
}

// foreignConflicts reports the desired exchanges and queues whose name a
// live object the graph does not own holds.
func foreignConflicts(want Objects, snap *Snapshot, o owner) []Conflict {
	var cs []Conflict
	foreign := func(kind Kind, name string, args map[string]any) {
		ok, why := o.owns(name, args)
		if ok {
			return
		}
		rename := "rename the queue in the graph"
		if kind == KindExchange {
			rename = "rename the exchange in the broker block"
		}
		fix := fmt.Sprintf("to resolve: %s, delete the foreign %s, or adopt it with adopt = [%q] in the broker block", rename, kind, name)
		if _, stamped := args[GraphArg]; stamped {
			fix = "to resolve: " + rename + ", or remove it from the other graph (objects stamped by another graph can never be adopted)"
		}
		cs = append(cs, Conflict{Kind: kind, Name: name, Reason: why, Fix: fix})
	}
	liveExch := map[string]Exchange{}
	for _, e := range snap.Exchanges {
		liveExch[e.Name] = e
	}
	liveQueue := map[string]Queue{}
	for _, q := range snap.Queues {
		liveQueue[q.Name] = q
	}
	for _, e := range want.Exchanges {
		if l, ok := liveExch[e.Name]; ok {
			foreign(KindExchange, l.Name, l.Arguments)
		}
	}
	for _, q := range want.Queues {
		if l, ok := liveQueue[q.Name]; ok {
			foreign(KindQueue, l.Name, l.Arguments)
		}
	}
	return cs
}
