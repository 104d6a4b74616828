package plan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/topology"
)

// How RabbitMQ 3.10.8 picks a queue's policy (rabbit_policy:match/2): a
// policy is a candidate when its apply-to covers queues, its pattern
// matches somewhere in the queue's name (an unanchored PCRE search) and the
// queue's type supports every key of its definition (a quorum queue passes
// over a policy that sets queue-mode, a classic queue one that sets
// delivery-limit); the candidate of the highest priority is the queue's
// policy, and it alone applies (operator policies are merged on top, key by
// key). Between candidates of equal priority RabbitMQ takes whichever its
// internal table holds first: measured on 3.10.8, neither name order nor
// creation order. dge therefore treats a tie with its own policies as a
// foreign policy that may win.

// unsupportedPolicyKeys are the policy keys a queue type refuses, which
// make a whole policy pass it over (3.10.8's capabilities()).
var unsupportedPolicyKeys = map[string][]string{
	"classic": {"max-age", "stream-max-segment-size-bytes", "queue-leader-locator", "initial-cluster-size",
		"delivery-limit", "dead-letter-strategy"},
	"quorum": {"max-priority", "queue-mode", "single-active-consumer", "ha-mode", "ha-params", "ha-sync-mode",
		"ha-promote-on-shutdown", "ha-promote-on-failure", "queue-master-locator", "max-age",
		"stream-max-segment-size-bytes", "initial-cluster-size"},
}

// Severity says whether a diagnostic stops apply.
type Severity string

// The severities of a diagnostic.
const (
	// SeverityError makes plan exit 1 and apply refuse the plan.
	SeverityError Severity = "error"
	// SeverityWarning is shown and changes nothing.
	SeverityWarning Severity = "warning"
)

// Diagnostic is a problem of the live vhost that a plan found beside its
// changes, in Terraform's form: a short summary and a detail that ends with
// the fix.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail"`
	// Policy names the policy the diagnostic is about, if any.
	Policy string `json:"policy,omitempty"`
	// Queues are the graph's queues concerned, sorted.
	Queues []string `json:"queues,omitempty"`
}

// policyMatcher evaluates one policy the way RabbitMQ would, as far as Go's
// regular expressions allow.
type policyMatcher struct {
	Policy
	re      *regexp.Regexp // the pattern; nil when it cannot be evaluated
	exclude *regexp.Regexp // a leading negative lookahead ^(?!x), anchored
	known   bool           // pattern and apply-to understood
}

func newPolicyMatcher(p Policy) policyMatcher {
	m := policyMatcher{Policy: p}
	re, exclude, err := compilePattern(p.Pattern)
	switch p.ApplyTo {
	case "queues", "all", "classic_queues", "quorum_queues", "streams", "exchanges":
		m.known = err == nil
	}
	m.re, m.exclude = re, exclude
	return m
}

// compilePattern compiles a RabbitMQ (PCRE) policy pattern with Go's RE2
// syntax. RE2 has no lookaround; the one form common in policies, a leading
// negative lookahead (^(?!amq\.).*), is translated into an exclusion: the
// name must not match ^(?:x) and must match the rest, anchored.
func compilePattern(p string) (re, exclude *regexp.Regexp, err error) {
	if rest, ok := strings.CutPrefix(p, "^(?!"); ok {
		end := groupEnd(rest)
		if end < 0 || hasTopLevelBar(rest[end+1:]) {
			return nil, nil, fmt.Errorf("pattern %q: lookahead outside the form ^(?!x)y", p)
		}
		if exclude, err = regexp.Compile(`^(?:` + rest[:end] + `)`); err != nil {
			return nil, nil, err
		}
		if re, err = regexp.Compile(`^(?:` + rest[end+1:] + `)`); err != nil {
			return nil, nil, err
		}
		return re, exclude, nil
	}
	re, err = regexp.Compile(p)
	return re, nil, err
}

// groupEnd returns the index in s of the parenthesis that closes a group
// opened just before s, or -1; escapes and character classes are skipped.
func groupEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(s, i)
			if i < 0 {
				return -1
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// classEnd returns the index of the ] that closes the class opened at
// s[open], or -1.
func classEnd(s string, open int) int {
	i := open + 1
	if i < len(s) && s[i] == '^' {
		i++
	}
	if i < len(s) && s[i] == ']' {
		i++
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ']':
			return i
		}
	}
	return -1
}

// hasTopLevelBar reports whether s has an alternation outside any group,
// which would change the meaning of the lookahead translation.
func hasTopLevelBar(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			if i = classEnd(s, i); i < 0 {
				return true
			}
		case '(':
			depth++
		case ')':
			depth--
		case '|':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// candidate reports whether RabbitMQ would consider the policy for a queue
// of that name and type, and whether dge could tell (false, false: it
// cannot evaluate the policy).
func (m policyMatcher) candidate(name, qtype string) (match, known bool) {
	switch m.ApplyTo {
	case "queues", "all":
	case qtype + "_queues":
	case "streams":
		if qtype != "stream" {
			return false, true
		}
	case "exchanges":
		return false, true
	default:
		return false, false
	}
	for k := range m.Definition {
		if slices.Contains(unsupportedPolicyKeys[qtype], k) {
			return false, true
		}
	}
	if !m.known {
		return false, false
	}
	if m.exclude != nil && m.exclude.MatchString(name) {
		return false, true
	}
	return m.re.MatchString(name), true
}

// governing returns the candidates of the highest priority for a queue
// (more than one: a tie RabbitMQ settles arbitrarily) and the policies dge
// cannot evaluate whose priority is at least that high.
func governing(name, qtype string, ms []policyMatcher) (top, unknown []Policy) {
	best := 0
	for _, m := range ms {
		match, known := m.candidate(name, qtype)
		if !known || !match {
			continue
		}
		switch {
		case len(top) == 0 || m.Priority > best:
			top, best = []Policy{m.Policy}, m.Priority
		case m.Priority == best:
			top = append(top, m.Policy)
		}
	}
	for _, m := range ms {
		if _, known := m.candidate(name, qtype); !known && (len(top) == 0 || m.Priority >= best) {
			unknown = append(unknown, m.Policy)
		}
	}
	return top, unknown
}

// finding is one foreign policy's hold on one of the graph's queues.
type finding struct {
	policy Policy
	queue  Queue
	own    Policy   // the dge policy it displaces; empty where dge sets none
	how    string   // "overrides", "ties", "governs" (seen in the policy column), "may override", "caps"
	keys   []string // for "caps": the settings that lose messages (lossKeysOf)
}

// CheckPolicies judges every policy of the vhost against the graph's
// queues, all of them alike (work, retry, poll, parking, state and
// terminate queues), once want's policies are in place. It is the one rule plan,
// apply and status apply.
//
// A policy other than dge's governs a queue when it wins by RabbitMQ's
// rule (pattern, apply-to, the keys the queue type supports, highest
// priority; a tie with dge's priority counts, since RabbitMQ settles it
// arbitrarily); the management API's policy column, which lags about 5 s,
// decides for the policies dge cannot evaluate (a pattern beyond Go's
// regular expressions). On a queue dge gives a policy (work, retry, poll)
// that is an error: it replaces dge's settings. On a queue dge gives none
// (parking queues) it is an error when its settings expire, cap, delete
// or dead-letter messages (lossKeysOf); on a gather's state queue (Q.state,
// which holds its checkpoints) also when it sets overflow or a dead-letter
// exchange, whatever the value (lossKeysFor). An operator policy, which merges
// with dge's instead, is an error when it does that (see
// checkOperatorPolicies).
//
// It returns one error per policy that does or may lose messages or
// override dge's, naming the queues and what the policy disables, and a
// warning per policy that dge cannot evaluate and nothing shows winning;
// errors first.
func CheckPolicies(want Objects, snap *Snapshot) []Diagnostic {
	var ms []policyMatcher
	for _, p := range snap.Policies {
		if !OwnsPolicy(want.Owner.Graph, p.Name) {
			ms = append(ms, newPolicyMatcher(p))
		}
	}
	var own []policyMatcher
	for _, p := range want.Policies {
		own = append(own, newPolicyMatcher(p))
	}
	ms = append(ms, own...)

	var found []finding
	for _, q := range want.Queues {
		mine, ok := ownPolicy(q, own)
		if !ok {
			found = append(found, caps(q, ms, snap)...)
			continue
		}
		found = append(found, overrides(q, mine, ms, snap)...)
	}
	out := append(policyDiagnostics(want, snap, found), checkOperatorPolicies(want, snap, own)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity == SeverityError && out[j].Severity != SeverityError })
	return out
}

// ownPolicy returns the dge policy that covers q, if any.
func ownPolicy(q Queue, own []policyMatcher) (Policy, bool) {
	for _, m := range own {
		if ok, _ := m.candidate(q.Name, q.Type); ok {
			return m.Policy, true
		}
	}
	return Policy{}, false
}

// overrides returns the foreign policies that replace mine, dge's policy,
// on q.
func overrides(q Queue, mine Policy, ms []policyMatcher, snap *Snapshot) []finding {
	var found []finding
	top, unknown := governing(q.Name, q.Type, ms)
	tie := len(top) > 1
	for _, p := range top {
		if p.Name == mine.Name {
			continue
		}
		how := "overrides"
		if tie && slices.ContainsFunc(top, func(p Policy) bool { return p.Name == mine.Name }) {
			how = "ties"
		}
		found = append(found, finding{policy: p, queue: q, own: mine, how: how})
	}
	shown := snap.Stats[q.Name].Policy
	for _, p := range unknown {
		how := "may override"
		if p.Name == shown {
			how = "governs"
		}
		found = append(found, finding{policy: p, queue: q, own: mine, how: how})
	}
	return found
}

// caps returns the foreign policies that govern q, a queue dge gives no
// policy, with settings that lose its messages. A policy dge cannot
// evaluate counts when the policy column shows it applied.
func caps(q Queue, ms []policyMatcher, snap *Snapshot) []finding {
	var found []finding
	top, unknown := governing(q.Name, q.Type, ms)
	shown := snap.Stats[q.Name].Policy
	for _, p := range unknown {
		if p.Name == shown {
			top = append(top, p)
		}
	}
	for _, p := range top {
		if keys := lossKeysFor(q, p.Definition, nil); len(keys) > 0 {
			found = append(found, finding{policy: p, queue: q, how: "caps", keys: keys})
		}
	}
	return found
}

// policyDiagnostics groups findings by policy into diagnostics, errors
// first, each group by policy name.
func policyDiagnostics(want Objects, snap *Snapshot, found []finding) []Diagnostic {
	byPolicy := map[string][]finding{}
	for _, f := range found {
		byPolicy[f.policy.Name] = append(byPolicy[f.policy.Name], f)
	}
	var out []Diagnostic
	for _, name := range sortedKeys(byPolicy) {
		fs := byPolicy[name]
		var sure []finding
		for _, f := range fs {
			if f.how != "may override" {
				sure = append(sure, f)
			}
		}
		if len(sure) > 0 {
			out = append(out, policyError(want, snap, sure))
			continue
		}
		out = append(out, policyWarning(want, fs))
	}
	return out
}

func queueNames(fs []finding) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.queue.Name)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// listNames shows up to eight names, then how many more.
func listNames(names []string) string {
	const show = 8
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
}

func policyError(want Objects, snap *Snapshot, fs []finding) Diagnostic {
	p := fs[0].policy
	names := queueNames(fs)
	how := fs[0].how
	for _, f := range fs {
		if f.how == "overrides" || how == "caps" {
			how = f.how
		}
	}
	var summary, lead string
	switch how {
	case "overrides":
		summary = fmt.Sprintf("Policy %q (priority %d) overrides dge's policies on %s", p.Name, p.Priority, config.Plural(len(names), "queue"))
		lead = fmt.Sprintf("RabbitMQ applies only the highest-priority policy to a queue, so policy %q (pattern %q, priority %d) replaces dge's own (priority %d) on these queues of graph %q: %s.",
			p.Name, p.Pattern, p.Priority, PolicyPriority, want.Owner.Graph, listNames(names))
	case "ties":
		summary = fmt.Sprintf("Policy %q has dge's priority %d on %s: RabbitMQ may apply either", p.Name, p.Priority, config.Plural(len(names), "queue"))
		lead = fmt.Sprintf("Policy %q (pattern %q) has the same priority as dge's policies on these queues of graph %q, and RabbitMQ settles a tie by its own table order, so it may replace dge's: %s.",
			p.Name, p.Pattern, want.Owner.Graph, listNames(names))
	case "caps":
		summary = fmt.Sprintf("Policy %q (priority %d) can lose messages of %s", p.Name, p.Priority, config.Plural(len(names), "queue"))
		if !slices.ContainsFunc(fs, func(f finding) bool { return !stateQueue(f.queue) }) {
			summary = fmt.Sprintf("Policy %q (priority %d) can lose the checkpoints of %s", p.Name, p.Priority, config.Plural(len(names), "gather state queue"))
		}
		lead = fmt.Sprintf("Policy %q (pattern %q, priority %d) governs these queues of graph %q, which dge gives no policy of its own: %s.",
			p.Name, p.Pattern, p.Priority, want.Owner.Graph, listNames(names))
	default:
		summary = fmt.Sprintf("Policy %q (priority %d) governs %s instead of dge's policies", p.Name, p.Priority, config.Plural(len(names), "queue"))
		lead = fmt.Sprintf("The management API shows policy %q (pattern %q, priority %d) applied to these queues of graph %q in place of dge's own: %s.",
			p.Name, p.Pattern, p.Priority, want.Owner.Graph, listNames(names))
	}
	var sb strings.Builder
	sb.WriteString(lead)
	sb.WriteString("\nWhile it does, it disables:")
	for _, line := range disabled(want, snap, p, fs) {
		sb.WriteString("\n  - " + line)
	}
	if how != "caps" {
		sb.WriteString("\nDead-lettering itself still works on every queue that carries dge's dead-letter arguments: no policy overrides queue arguments.")
	}
	if len(p.Definition) > 0 && how != "caps" {
		fmt.Fprintf(&sb, " The policy's own settings apply to these queues instead: %s.", formatDefinition(p.Definition))
	}
	sb.WriteString("\n" + policyFix(want, p, how))
	return Diagnostic{Severity: SeverityError, Summary: summary, Detail: sb.String(), Policy: p.Name, Queues: names}
}

// disabled says what dge loses on the queues a foreign policy governs.
func disabled(want Objects, snap *Snapshot, p Policy, fs []finding) []string {
	var work, quorumWork, retry, poll, quorum, bare, capped, state []string
	capKeys, stateKeys := map[string]bool{}, map[string]bool{}
	liveQueue := map[string]Queue{}
	for _, q := range snap.Queues {
		liveQueue[q.Name] = q
	}
	seen := map[string]bool{}
	for _, f := range fs {
		q := f.queue
		if seen[q.Name] {
			continue
		}
		seen[q.Name] = true
		if f.how == "caps" && stateQueue(q) {
			state = append(state, q.Name)
			for _, k := range f.keys {
				stateKeys[k] = true
			}
			continue
		}
		if f.how == "caps" {
			capped = append(capped, q.Name)
			for _, k := range f.keys {
				capKeys[k] = true
			}
			continue
		}
		role := policyRole(want.Owner.Graph, f.own.Name)
		switch role {
		case topology.RoleWork:
			work = append(work, q.Name)
			if _, ok := f.own.Definition["delivery-limit"]; ok {
				quorumWork = append(quorumWork, q.Name)
			}
		case topology.RoleRetry:
			retry = append(retry, q.Name)
		case topology.RolePoll:
			poll = append(poll, q.Name)
		}
		if q.Type == "quorum" {
			quorum = append(quorum, q.Name)
		}
		if l, ok := liveQueue[q.Name]; ok {
			if _, has := l.Arguments["x-dead-letter-exchange"]; !has {
				bare = append(bare, q.Name)
			}
		}
	}
	var out []string
	if len(retry) > 0 {
		out = append(out, fmt.Sprintf("retry delays (%s): a message whose handler fails waits in its retry queue with no TTL instead of coming back after the delay. It is kept, not lost, but it stays there even after the fix, since RabbitMQ gives a message its TTL when it is enqueued: afterwards move such messages back to their work queue (for example with Move messages in the management UI, from the shovel plugin).", listNames(retry)))
	}
	if len(poll) > 0 {
		out = append(out, fmt.Sprintf("poll intervals (%s): a message waiting for its next check stays in its poll queue in the same way.", listNames(poll)))
	}
	if len(quorumWork) > 0 {
		out = append(out, fmt.Sprintf("the delivery-limit of the work queues (%s): the broker no longer stops a message that crashes its node over and over.", listNames(quorumWork)))
	}
	if o, ok := p.Definition["overflow"]; ok && o != "reject-publish" && len(quorum) > 0 {
		out = append(out, fmt.Sprintf("at-least-once dead-lettering (%s): its overflow %s takes precedence over dge's x-overflow argument on quorum queues, which then dead-letter at most once.", listNames(quorum), formatValue(o)))
	}
	if len(bare) > 0 {
		out = append(out, fmt.Sprintf("dead-lettering out of %s declared by an older dge without dead-letter arguments (%s): a rejected message is dropped. Once the policy is fixed, dge apply re-creates them with the arguments (-keep-messages keeps their messages).", config.Plural(len(bare), "queue"), listNames(bare)))
	}
	if len(capped) > 0 {
		keys := keysIn(lossKeys, capKeys)
		out = append(out, fmt.Sprintf("keeping the messages of the queues dge gives no policy (%s), which its %s can lose. %s",
			listNames(capped), strings.Join(keys, ", "), strings.Join(lossEffects(p.Definition, keys), " ")))
	}
	if len(state) > 0 {
		keys := keysIn(stateLossKeys, stateKeys)
		out = append(out, fmt.Sprintf("keeping the checkpoints of the gather state queues (%s), which its %s can lose. %s %s",
			listNames(state), strings.Join(keys, ", "), stateQueuesNote(nil), strings.Join(stateLossEffects(p.Definition, keys), " ")))
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("nothing dge needs on these work queues (%s) today, since their policy holds only what their arguments already set; but dge's policies must govern its queues for its in-place changes to take effect.", listNames(work)))
	}
	return out
}

// keysIn returns the keys of order that set holds, in order.
func keysIn(order []string, set map[string]bool) []string {
	var out []string
	for _, k := range order {
		if set[k] {
			out = append(out, k)
		}
	}
	return out
}

// policyRole returns the role of a dge policy from its name.
func policyRole(graph, name string) topology.Role {
	rest := strings.TrimPrefix(name, "dge."+graph+".")
	role, _, _ := strings.Cut(rest, ".")
	return topology.Role(role)
}

// policyFix is the closing sentence of a foreign-policy error: what is
// true for RabbitMQ 3.10. An operator policy is no way out: it merges with
// dge's policies, and its expires, message-ttl, max-length and
// delivery-limit lose dge's messages as surely (checkOperatorPolicies).
func policyFix(want Objects, p Policy, how string) string {
	var sb strings.Builder
	sb.WriteString("To fix: exclude dge's queues from its pattern, e.g.\n")
	sb.WriteString("    " + setPolicyCommand("set_policy", want, p))
	if how != "caps" {
		fmt.Fprintf(&sb, "\nor lower its priority below %d (dge's priority; at equal priority RabbitMQ picks either) if it sets nothing that expires, caps or deletes messages;", PolicyPriority)
	}
	sb.WriteString("\nthen run dge plan again.")
	return sb.String()
}

func policyWarning(want Objects, fs []finding) Diagnostic {
	p := fs[0].policy
	names := queueNames(fs)
	return Diagnostic{
		Severity: SeverityWarning,
		Summary:  fmt.Sprintf("Policy %q (priority %d) may override dge's policies: dge cannot evaluate its pattern", p.Name, p.Priority),
		Detail: fmt.Sprintf("Policy %q (pattern %q, apply-to %q) has a priority of at least dge's %d, and its pattern uses what Go's regular expressions lack (lookaround, backreferences), so dge cannot tell whether it matches these queues of graph %q: %s. The management API's policy column shows no queue governed by it yet (it lags about 5 s). If it matches them, it disables their retry delays and delivery-limit.\nTo be sure: lower its priority below %d, or give it a pattern that excludes dge's queues in plain syntax; then run dge plan again.",
			p.Name, p.Pattern, p.ApplyTo, PolicyPriority, want.Owner.Graph, listNames(names), PolicyPriority),
		Policy: p.Name,
		Queues: names,
	}
}

// formatDefinition renders a policy definition as key=value pairs.
func formatDefinition(def map[string]any) string {
	var parts []string
	for _, k := range sortedKeys(def) {
		parts = append(parts, k+"="+formatValue(def[k]))
	}
	return strings.Join(parts, ", ")
}
