package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dgehq/dge/config"
)

// How RabbitMQ 3.10 applies operator policies (/api/operator-policies,
// rabbitmqctl set_operator_policy): the operator policy of the highest
// priority that matches a queue (the rule of policies) is merged with the
// queue's policy key by key, the stricter (lower) value winning; it may set
// only expires, message-ttl, max-length, max-length-bytes,
// max-in-memory-length, max-in-memory-bytes and delivery-limit. Queue
// arguments do not beat it either: for each of these keys RabbitMQ applies
// the lower of the argument and the merged policy value, so no queue
// dge declares can be made immune to one.

// checkOperatorPolicies returns an error per operator policy that governs
// some of want's queues with a setting that loses their messages (see
// lossKeysOf), and a warning per such operator policy whose pattern dge
// cannot evaluate and that the queue listing does not show applied.
func checkOperatorPolicies(want Objects, snap *Snapshot, own []policyMatcher) []Diagnostic {
	var ms []policyMatcher
	for _, p := range snap.OperatorPolicies {
		ms = append(ms, newPolicyMatcher(p))
	}
	if len(ms) == 0 {
		return nil
	}
	type hold struct {
		queues, sure []string // every queue, and those it surely governs
		keys         map[string]bool
		state        []Queue // the gather state queues among queues
	}
	holds := map[string]*hold{}
	byName := map[string]Policy{}
	add := func(p Policy, q Queue, keys []string, sure bool) {
		h := holds[p.Name]
		if h == nil {
			h = &hold{keys: map[string]bool{}}
			holds[p.Name], byName[p.Name] = h, p
		}
		h.queues = append(h.queues, q.Name)
		if sure {
			h.sure = append(h.sure, q.Name)
		}
		if stateQueue(q) {
			h.state = append(h.state, q)
		}
		for _, k := range keys {
			h.keys[k] = true
		}
	}
	for _, q := range want.Queues {
		var mine map[string]any
		if p, ok := ownPolicy(q, own); ok {
			mine = p.Definition
		}
		top, unknown := governing(q.Name, q.Type, ms)
		for _, p := range top {
			if keys := lossKeysFor(q, p.Definition, mine); len(keys) > 0 {
				add(p, q, keys, true)
			}
		}
		for _, p := range unknown {
			if keys := lossKeysFor(q, p.Definition, mine); len(keys) > 0 {
				add(p, q, keys, snap.Stats[q.Name].OperatorPolicy == p.Name)
			}
		}
	}
	var out []Diagnostic
	for _, name := range sortedKeys(holds) {
		h := holds[name]
		queues := h.queues
		if len(h.sure) > 0 {
			queues = h.sure
		}
		sort.Strings(queues)
		var state []string
		for _, q := range h.state {
			if slices.Contains(queues, q.Name) {
				state = append(state, q.Name)
			}
		}
		sort.Strings(state)
		out = append(out, operatorDiagnostic(want, byName[name], queues, state, keysIn(lossKeys, h.keys), len(h.sure) > 0))
	}
	return out
}

// operatorDiagnostic is the error (or, when dge cannot evaluate its
// pattern, the warning) for one operator policy that loses messages of
// the queues named, of which state are gather state queues.
func operatorDiagnostic(want Objects, p Policy, queues, state, keys []string, sure bool) Diagnostic {
	shown := map[string]any{}
	for _, k := range keys {
		shown[k] = p.Definition[k]
	}
	d := Diagnostic{Severity: SeverityError, Policy: p.Name, Queues: queues,
		Summary: fmt.Sprintf("Operator policy %q (%s) can lose messages of %s", p.Name, formatDefinition(shown), config.Plural(len(queues), "queue"))}
	var sb strings.Builder
	if sure {
		fmt.Fprintf(&sb, "Operator policy %q (pattern %q, priority %d) applies to these queues of graph %q: %s.",
			p.Name, p.Pattern, p.Priority, want.Owner.Graph, listNames(queues))
	} else {
		d.Severity = SeverityWarning
		d.Summary = fmt.Sprintf("Operator policy %q (%s) may lose messages: dge cannot evaluate its pattern", p.Name, formatDefinition(shown))
		fmt.Fprintf(&sb, "Operator policy %q (pattern %q, priority %d) uses what Go's regular expressions lack, so dge cannot tell whether it applies to these queues of graph %q; the queue listing does not show it applied yet: %s.",
			p.Name, p.Pattern, p.Priority, want.Owner.Graph, listNames(queues))
	}
	sb.WriteString(" RabbitMQ merges an operator policy with dge's policies key by key, the stricter value winning, and no queue argument overrides it")
	if len(state) == len(queues) {
		sb.WriteString(".")
	} else {
		sb.WriteString(", so on these queues:")
		for _, line := range lossEffects(p.Definition, keys) {
			sb.WriteString("\n  - " + line)
		}
	}
	if len(state) > 0 {
		sb.WriteString("\n" + stateQueuesNote(state) + " There:")
		for _, line := range stateLossEffects(p.Definition, keys) {
			sb.WriteString("\n  - " + line)
		}
	}
	fmt.Fprintf(&sb, "\nTo fix: exclude dge's queues from its pattern, e.g.\n    %s\nor give it a pattern that lists only the queues it should cap; then run dge plan again.",
		setPolicyCommand("set_operator_policy", want, p))
	d.Detail = sb.String()
	return d
}
