package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/topology"
	"github.com/google/go-cmp/cmp"
)

// policyGraph is a small desired topology: quorum queues a (work), a.retry,
// a.dead, p (work), p.retry, p.poll, p.dead, with dge's policies.
func policyGraph(qtype string) Objects {
	quorum := qtype == "quorum"
	t := Objects{Owner: Owner{Graph: "g"}, Vhost: "v"}
	spec := topology.Build(topology.Params{
		Name: "g", QueueType: qtype, WorkExchange: "g.work", RetryExchange: "g.retry", PollExchange: "g.poll",
		Edges: []topology.EdgeParams{{Queue: "a", Retry: 5 * time.Second, MaxAttempts: 5}, {Queue: "p", Retry: 5 * time.Second, MaxAttempts: 5, Poll: true, Interval: time.Second}},
	})
	for _, q := range spec.Queues {
		args := topology.Arguments(q, quorum)
		args[GraphArg] = "g"
		t.Queues = append(t.Queues, Queue{Name: q.Name, Type: qtype, Durable: true, Arguments: args})
	}
	work := map[string]any{"dead-letter-exchange": "g.retry"}
	if quorum {
		work["delivery-limit"] = float64(5)
	}
	t.Policies = []Policy{
		{Name: "dge.g.work", Pattern: Pattern([]string{"a", "p"}, ""), ApplyTo: "queues", Priority: PolicyPriority, Definition: work},
		{Name: "dge.g.retry.5s", Pattern: Pattern([]string{"a", "p"}, ".retry"), ApplyTo: "queues", Priority: PolicyPriority,
			Definition: map[string]any{"message-ttl": float64(5000), "dead-letter-exchange": "g.work"}},
		{Name: "dge.g.poll.1s", Pattern: Pattern([]string{"p"}, ".poll"), ApplyTo: "queues", Priority: PolicyPriority,
			Definition: map[string]any{"message-ttl": float64(1000), "dead-letter-exchange": "g.work"}},
	}
	return t
}

// liveOf is the snapshot of a vhost where want was applied, plus extra
// policies; shown maps queue names to the policy column.
func liveOf(want Objects, extra []Policy, shown map[string]string) *Snapshot {
	s := &Snapshot{Objects: Objects{Vhost: want.Vhost, Queues: want.Queues}, Stats: map[string]QueueStats{}}
	s.Policies = append(append([]Policy(nil), want.Policies...), extra...)
	for q, p := range shown {
		s.Stats[q] = QueueStats{Policy: p}
	}
	return s
}

func TestCheckPolicies(t *testing.T) {
	governed := []string{"a", "a.retry", "p", "p.poll", "p.retry"}
	all := []string{"a", "a.dead", "a.retry", "p", "p.dead", "p.poll", "p.retry"}
	catchAll := func(prio int, def map[string]any) Policy {
		return Policy{Name: "ops", Pattern: ".*", ApplyTo: "queues", Priority: prio, Definition: def}
	}
	limit := map[string]any{"max-length": float64(1000000)}
	for _, tc := range []struct {
		name     string
		qtype    string
		extra    []Policy
		shown    map[string]string
		severity Severity // "" for no diagnostic
		queues   []string
		summary  string   // a part of the summary
		detail   []string // parts of the detail
		notIn    []string // must not be in the detail
	}{
		{name: "none", qtype: "quorum"},
		{name: "lower priority", qtype: "quorum", extra: []Policy{catchAll(50, map[string]any{"max-in-memory-length": float64(10)})}},
		{name: "lower priority still caps the parking queues", qtype: "quorum", extra: []Policy{catchAll(50, limit)},
			severity: SeverityError, queues: []string{"a.dead", "p.dead"}, summary: "can lose messages of 2 queues"},
		{name: "catch-all above dge's", qtype: "quorum", extra: []Policy{catchAll(200, limit)},
			severity: SeverityError, queues: all, summary: `Policy "ops" (priority 200) overrides dge's policies on 7 queues`,
			detail: []string{"retry delays (a.retry, p.retry)", "poll intervals (p.poll)", "delivery-limit of the work queues (a, p)",
				"max-length=1000000", "lower its priority below 100", "queues dge gives no policy (a.dead, p.dead), which its max-length can lose",
				`    rabbitmqctl set_policy -p v --priority 200 --apply-to queues ops '^(?!(?:a|p)(?:\.retry|\.dead|\.poll|\.state)?$).*' '{"max-length":1000000}'`},
			notIn: []string{"older dge", "at most once", "operator policy"}},
		{name: "catch-all without settings that lose messages", qtype: "quorum", extra: []Policy{catchAll(200, map[string]any{"max-in-memory-length": float64(10)})},
			severity: SeverityError, queues: governed, summary: `overrides dge's policies on 5 queues`},
		{name: "tie with dge's priority", qtype: "quorum", extra: []Policy{catchAll(100, limit)},
			severity: SeverityError, queues: all, summary: `has dge's priority 100 on 7 queues: RabbitMQ may apply either`},
		{name: "one queue by name", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: "^a$", ApplyTo: "all", Priority: 300, Definition: limit}},
			severity: SeverityError, queues: []string{"a"}, summary: "on 1 queue"},
		{name: "parking queues capped", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `\.dead$`, ApplyTo: "queues", Priority: 200, Definition: map[string]any{"max-length": float64(1)}}},
			severity: SeverityError, queues: []string{"a.dead", "p.dead"}, summary: `Policy "ops" (priority 200) can lose messages of 2 queues`,
			detail: []string{"which dge gives no policy of its own: a.dead, p.dead", "drops its oldest message", `'^(?!(?:a|p)(?:\.retry|\.dead|\.poll|\.state)?$).*(?:\.dead$)'`},
			notIn:  []string{"lower its priority"}},
		{name: "parking queues with a message-ttl, any priority", qtype: "classic", extra: []Policy{{Name: "ops", Pattern: `\.dead$`, ApplyTo: "queues", Priority: 0, Definition: map[string]any{"message-ttl": float64(1000)}}},
			severity: SeverityError, queues: []string{"a.dead", "p.dead"}, detail: []string{"from a parking queue (.dead) it is dropped"}},
		{name: "parking queues with harmless settings", qtype: "classic", extra: []Policy{{Name: "ops", Pattern: `\.dead$`, ApplyTo: "queues", Priority: 300, Definition: map[string]any{"queue-mode": "lazy"}}}},
		{name: "exchanges only", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: ".*", ApplyTo: "exchanges", Priority: 300, Definition: map[string]any{"alternate-exchange": "x"}}}},
		{name: "quorum queues pass over queue-mode", qtype: "quorum", extra: []Policy{catchAll(200, map[string]any{"queue-mode": "lazy"})}},
		{name: "classic queues take queue-mode", qtype: "classic", extra: []Policy{catchAll(200, map[string]any{"queue-mode": "lazy"})},
			severity: SeverityError, queues: governed, detail: []string{"retry delays", "poll intervals", "queue-mode=\"lazy\""},
			notIn: []string{"delivery-limit", "operator policy"}},
		{name: "classic queues pass over delivery-limit", qtype: "classic", extra: []Policy{catchAll(200, map[string]any{"delivery-limit": float64(3)})}},
		{name: "classic work queues alone", qtype: "classic", extra: []Policy{{Name: "ops", Pattern: "^[ap]$", ApplyTo: "queues", Priority: 200, Definition: limit}},
			severity: SeverityError, queues: []string{"a", "p"}, detail: []string{"nothing dge needs on these work queues (a, p)"}},
		{name: "classic queues: max-length on the parking queues too", qtype: "classic", extra: []Policy{catchAll(200, limit)},
			severity: SeverityError, queues: all},
		{name: "overflow drop-head downgrades quorum dead-lettering", qtype: "quorum", extra: []Policy{catchAll(200, map[string]any{"overflow": "drop-head"})},
			severity: SeverityError, queues: governed, detail: []string{`its overflow "drop-head" takes precedence`, "at most once"}, notIn: []string{"operator policy"}},
		{name: "leading negative lookahead", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `^(?!a\b|a\.).*`, ApplyTo: "queues", Priority: 200, Definition: limit}},
			severity: SeverityError, queues: []string{"p", "p.dead", "p.poll", "p.retry"}},
		{name: "lookahead excluding every queue", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `^(?![ap]).*`, ApplyTo: "queues", Priority: 200, Definition: limit}}},
		{name: "pattern beyond RE2, nothing shown", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `^(a)\1`, ApplyTo: "queues", Priority: 200, Definition: limit}},
			severity: SeverityWarning, queues: governed, summary: "dge cannot evaluate its pattern"},
		{name: "pattern beyond RE2, below dge's priority", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `^(a)\1`, ApplyTo: "queues", Priority: 99, Definition: limit}}},
		{name: "pattern beyond RE2, shown governing", qtype: "quorum", extra: []Policy{{Name: "ops", Pattern: `(?=a)a`, ApplyTo: "queues", Priority: 200, Definition: limit}},
			shown: map[string]string{"a": "ops", "p": "dge.g.work"}, severity: SeverityError, queues: []string{"a"},
			summary: `Policy "ops" (priority 200) governs 1 queue instead of dge's policies`},
		{name: "a lagging policy column is overruled", qtype: "quorum", extra: []Policy{catchAll(50, nil)},
			shown: map[string]string{"a": "ops", "a.retry": "ops"}},
		{name: "the graph's own stale policy is not foreign", qtype: "quorum",
			extra: []Policy{{Name: "dge.g.retry.7s", Pattern: `.*`, ApplyTo: "queues", Priority: 200, Definition: map[string]any{"message-ttl": float64(7000)}}}},
		{name: "another graph's policy is foreign", qtype: "quorum",
			extra:    []Policy{{Name: "dge.other.work", Pattern: `^a$`, ApplyTo: "queues", Priority: 100, Definition: map[string]any{"dead-letter-exchange": "other.retry"}}},
			severity: SeverityError, queues: []string{"a"}, summary: "may apply either"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := policyGraph(tc.qtype)
			ds := CheckPolicies(want, liveOf(want, tc.extra, tc.shown))
			if tc.severity == "" {
				if len(ds) > 0 {
					t.Fatalf("got diagnostics %+v, want none", ds)
				}
				return
			}
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics %+v, want 1", len(ds), ds)
			}
			d := ds[0]
			if d.Severity != tc.severity || d.Policy != tc.extra[0].Name {
				t.Errorf("severity %s, policy %q; want %s, %q", d.Severity, d.Policy, tc.severity, tc.extra[0].Name)
			}
			if diff := cmp.Diff(tc.queues, d.Queues); diff != "" {
				t.Errorf("queues (-want +got):\n%s", diff)
			}
			if !strings.Contains(d.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", d.Summary, tc.summary)
			}
			for _, w := range tc.detail {
				if !strings.Contains(d.Detail, w) {
					t.Errorf("detail lacks %q:\n%s", w, d.Detail)
				}
			}
			for _, w := range tc.notIn {
				if strings.Contains(d.Detail, w) {
					t.Errorf("detail has %q:\n%s", w, d.Detail)
				}
			}
			if tc.severity == SeverityError && !strings.Contains(d.Detail, "To fix:") {
				t.Errorf("an error's detail must end with the fix:\n%s", d.Detail)
			}
		})
	}
}

func TestCheckPoliciesBeforeDgesPoliciesExist(t *testing.T) {
	// A first apply: the live vhost has only the foreign policy.
	want := policyGraph("quorum")
	snap := &Snapshot{Objects: Objects{Vhost: "v", Policies: []Policy{{Name: "ops", Pattern: ".*", ApplyTo: "queues", Priority: 200}}}}
	ds := CheckPolicies(want, snap)
	if len(ds) != 1 || ds[0].Severity != SeverityError || len(ds[0].Queues) != 5 {
		t.Fatalf("diagnostics %+v; want one error over the 5 governed queues", ds)
	}
}

func TestCheckPoliciesOlderQueues(t *testing.T) {
	// Queues declared before the dead-letter arguments: the foreign policy
	// also disables their dead-lettering.
	want := policyGraph("quorum")
	snap := liveOf(want, []Policy{{Name: "ops", Pattern: "^a$", ApplyTo: "queues", Priority: 200}}, nil)
	snap.Queues = []Queue{{Name: "a", Type: "quorum", Durable: true, Arguments: map[string]any{GraphArg: "g"}}}
	ds := CheckPolicies(want, snap)
	if len(ds) != 1 || !strings.Contains(ds[0].Detail, "declared by an older dge without dead-letter arguments (a): a rejected message is dropped") {
		t.Fatalf("diagnostics %+v; want one naming a's dropped dead-lettering", ds)
	}
}

func TestCheckPoliciesOrder(t *testing.T) {
	want := policyGraph("quorum")
	extra := []Policy{
		{Name: "z-unsure", Pattern: `(?=p)`, ApplyTo: "queues", Priority: 150},
		{Name: "b-sure", Pattern: `^a$`, ApplyTo: "queues", Priority: 150},
		{Name: "a-sure", Pattern: `^p$`, ApplyTo: "queues", Priority: 150},
	}
	var got []string
	for _, d := range CheckPolicies(want, liveOf(want, extra, nil)) {
		got = append(got, string(d.Severity)+" "+d.Policy)
	}
	want2 := []string{"error a-sure", "error b-sure", "warning z-unsure"}
	if !slices.Equal(got, want2) {
		t.Errorf("diagnostics %v, want %v", got, want2)
	}
}

func TestCompilePattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		err     bool
		match   map[string]bool
	}{
		{pattern: ".*", match: map[string]bool{"": true, "input": true}},
		{pattern: "put", match: map[string]bool{"input": true, "in": false}},
		{pattern: `^(?!amq\.).*`, match: map[string]bool{"amq.gen": false, "input": true, "xamq.": true}},
		{pattern: `^(?!a|b)c`, match: map[string]bool{"c": true, "a": false, "cb": true}},
		{pattern: `^(?!(a)[)]).*`, match: map[string]bool{"a)": false, "a": true}},
		{pattern: `^(?!a)b|c`, err: true},
		{pattern: `^(?!a`, err: true},
		{pattern: `a(?=b)`, err: true},
		{pattern: `(a)\1`, err: true},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			m := newPolicyMatcher(Policy{Name: "p", Pattern: tc.pattern, ApplyTo: "queues"})
			if !m.known != tc.err {
				t.Fatalf("known = %v, want error %v", m.known, tc.err)
			}
			for name, want := range tc.match {
				if got, _ := m.candidate(name, "classic"); got != want {
					t.Errorf("%q matches %q: %v, want %v", tc.pattern, name, got, want)
				}
			}
		})
	}
}

func TestCheckOperatorPolicies(t *testing.T) {
	all := []string{"a", "a.dead", "a.retry", "p", "p.dead", "p.poll", "p.retry"}
	op := func(pattern string, def map[string]any) []Policy {
		return []Policy{{Name: "cap", Pattern: pattern, ApplyTo: "queues", Priority: 0, Definition: def}}
	}
	for _, tc := range []struct {
		name     string
		qtype    string
		ops      []Policy
		shown    map[string]string
		severity Severity // "" for no diagnostic
		queues   []string
		detail   []string
	}{
		{name: "none", qtype: "quorum"},
		{name: "message-ttl", qtype: "quorum", ops: op(".*", map[string]any{"message-ttl": float64(2000)}),
			// The retry and poll TTLs (5 s, 1 s) merge to 2 s and 1 s: only
			// the retry queues' delay shortens, nothing is lost there.
			severity: SeverityError, queues: []string{"a", "a.dead", "p", "p.dead"},
			detail: []string{"dead-letter cycle", "messages_dlx", "no queue argument overrides it",
				"rabbitmqctl set_operator_policy -p v --priority 0 --apply-to queues cap '^(?!(?:a|p)(?:\\.retry|\\.dead|\\.poll|\\.state)?$).*' '{\"message-ttl\":2000}'"}},
		{name: "max-length", qtype: "quorum", ops: op(".*", map[string]any{"max-length": float64(3)}),
			severity: SeverityError, queues: all, detail: []string{"drops its oldest message"}},
		{name: "max-length-bytes", qtype: "classic", ops: op(".*", map[string]any{"max-length-bytes": float64(3)}),
			severity: SeverityError, queues: all},
		{name: "expires", qtype: "quorum", ops: op(".*", map[string]any{"expires": float64(60000)}),
			severity: SeverityError, queues: all, detail: []string{"deletes a queue left unused"}},
		{name: "delivery-limit below dge's", qtype: "quorum", ops: op(".*", map[string]any{"delivery-limit": float64(1)}),
			severity: SeverityError, queues: all, detail: []string{"before dge's own crash threshold"}},
		{name: "delivery-limit above dge's still reaches the other queues", qtype: "quorum", ops: op(".*", map[string]any{"delivery-limit": float64(50)}),
			severity: SeverityError, queues: []string{"a.dead", "a.retry", "p.dead", "p.poll", "p.retry"}},
		{name: "classic queues pass over delivery-limit", qtype: "classic", ops: op(".*", map[string]any{"delivery-limit": float64(1)})},
		{name: "memory limits lose nothing", qtype: "quorum", ops: op(".*", map[string]any{"max-in-memory-length": float64(1)})},
		{name: "dge's queues excluded", qtype: "quorum", ops: op(`^(?!(?:a|p)(?:\.retry|\.dead|\.poll|\.state)?$).*`, map[string]any{"max-length": float64(3)})},
		{name: "parking queues only", qtype: "quorum", ops: op(`\.dead$`, map[string]any{"max-length": float64(1)}),
			severity: SeverityError, queues: []string{"a.dead", "p.dead"}},
		{name: "the highest priority applies", qtype: "quorum", ops: []Policy{
			{Name: "cap", Pattern: ".*", ApplyTo: "queues", Priority: 5, Definition: map[string]any{"max-in-memory-length": float64(1)}},
			{Name: "low", Pattern: ".*", ApplyTo: "queues", Priority: 1, Definition: map[string]any{"max-length": float64(1)}},
		}},
		{name: "pattern beyond RE2, shown applied", qtype: "quorum", ops: op(`(?=a)a`, map[string]any{"expires": float64(1000)}),
			shown: map[string]string{"a": "cap"}, severity: SeverityError, queues: []string{"a"}},
		{name: "pattern beyond RE2, not shown", qtype: "quorum", ops: op(`(?=a)a`, map[string]any{"expires": float64(1000)}),
			severity: SeverityWarning, queues: all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := policyGraph(tc.qtype)
			snap := liveOf(want, nil, nil)
			snap.OperatorPolicies = tc.ops
			for q, p := range tc.shown {
				snap.Stats[q] = QueueStats{OperatorPolicy: p}
			}
			ds := CheckPolicies(want, snap)
			if tc.severity == "" {
				if len(ds) > 0 {
					t.Fatalf("got diagnostics %+v, want none", ds)
				}
				return
			}
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics %+v, want 1", len(ds), ds)
			}
			d := ds[0]
			if d.Severity != tc.severity || d.Policy != "cap" || !strings.Contains(d.Summary, `Operator policy "cap"`) {
				t.Errorf("severity %s, policy %q, summary %q; want %s about operator policy cap", d.Severity, d.Policy, d.Summary, tc.severity)
			}
			if diff := cmp.Diff(tc.queues, d.Queues); diff != "" {
				t.Errorf("queues (-want +got):\n%s", diff)
			}
			for _, w := range tc.detail {
				if !strings.Contains(d.Detail, w) {
					t.Errorf("detail lacks %q:\n%s", w, d.Detail)
				}
			}
			if !strings.Contains(d.Detail, "To fix: exclude dge's queues") {
				t.Errorf("detail lacks the fix:\n%s", d.Detail)
			}
		})
	}
}

func TestExcludePattern(t *testing.T) {
	want := policyGraph("quorum")
	for _, p := range []string{".*", "", `\.dead$`, "^a", `^(?!amq\.).*`, "put|dead"} {
		got := ExcludePattern(want, p)
		m := newPolicyMatcher(Policy{Name: "x", Pattern: got, ApplyTo: "queues"})
		if !m.known {
			t.Errorf("ExcludePattern(%q) = %q: dge cannot evaluate it", p, got)
			continue
		}
		for _, q := range want.Queues {
			if ok, _ := m.candidate(q.Name, q.Type); ok {
				t.Errorf("ExcludePattern(%q) = %q matches the graph's queue %s", p, got, q.Name)
			}
		}
		orig := newPolicyMatcher(Policy{Name: "x", Pattern: p, ApplyTo: "queues"})
		for _, other := range []string{"orders", "orders.dead", "amq.gen", "apple", "p.dead2"} {
			w, _ := orig.candidate(other, "quorum")
			if g, _ := m.candidate(other, "quorum"); g != w {
				t.Errorf("ExcludePattern(%q) = %q matches %s: %v, the original %v", p, got, other, g, w)
			}
		}
	}
}

// gatherGraph is a small desired topology with a gather: queues a (work),
// a.retry, a.dead, s (a gather's work queue), s.retry, s.dead and s.state,
// with dge's policies.
func gatherGraph(qtype string) Objects {
	t := Objects{Owner: Owner{Graph: "g"}, Vhost: "v"}
	spec := topology.Build(topology.Params{
		Name: "g", QueueType: qtype, WorkExchange: "g.work", RetryExchange: "g.retry",
		Edges: []topology.EdgeParams{{Queue: "a", Retry: 5 * time.Second, MaxAttempts: 5}, {Queue: "s", Retry: 5 * time.Second, MaxAttempts: 5, Gather: true}},
	})
	for _, q := range spec.Queues {
		args := topology.Arguments(q, qtype == "quorum")
		args[GraphArg] = "g"
		t.Queues = append(t.Queues, Queue{Name: q.Name, Type: qtype, Durable: true, Arguments: args})
	}
	work := map[string]any{"dead-letter-exchange": "g.retry"}
	if qtype == "quorum" {
		work["delivery-limit"] = float64(5)
	}
	t.Policies = []Policy{
		{Name: "dge.g.work", Pattern: Pattern([]string{"a", "s"}, ""), ApplyTo: "queues", Priority: PolicyPriority, Definition: work},
		{Name: "dge.g.retry.5s", Pattern: Pattern([]string{"a", "s"}, ".retry"), ApplyTo: "queues", Priority: PolicyPriority,
			Definition: map[string]any{"message-ttl": float64(5000), "dead-letter-exchange": "g.work"}},
	}
	return t
}

// TestCheckPoliciesStateQueue: a policy, foreign or operator, that could
// expire, cap, drop or dead-letter a gather's checkpoints in its state
// queue is an error worded for the checkpoints, whatever its priority and
// whatever the value: dge sets none of these on a state queue. The fix's
// exclusion covers .state.
func TestCheckPoliciesStateQueue(t *testing.T) {
	state := func(def map[string]any) []Policy {
		return []Policy{{Name: "ops", Pattern: `\.state$`, ApplyTo: "queues", Priority: 0, Definition: def}}
	}
	const exclusion = `'^(?!(?:a|s)(?:\.retry|\.dead|\.poll|\.state)?$).*(?:\.state$)'`
	for _, tc := range []struct {
		name     string
		qtype    string
		extra    []Policy // foreign policies
		ops      []Policy // operator policies
		queues   []string // "" severity: none
		summary  string
		detail   []string
		notIn    []string
		severity Severity
	}{
		{name: "harmless settings", qtype: "quorum", extra: state(map[string]any{"max-in-memory-length": float64(10)})},
		{name: "dead-letter-routing-key alone", qtype: "classic", extra: state(map[string]any{"dead-letter-routing-key": "x"})},
		{name: "message-ttl", qtype: "quorum", extra: state(map[string]any{"message-ttl": float64(60000)}),
			severity: SeverityError, queues: []string{"s.state"},
			summary: `Policy "ops" (priority 0) can lose the checkpoints of 1 gather state queue`,
			detail: []string{"keeping the checkpoints of the gather state queues (s.state), which its message-ttl can lose",
				"already acknowledged", "a checkpoint older than that expires and is dropped", "completes missing items",
				"rabbitmqctl set_policy -p v --priority 0 --apply-to queues ops " + exclusion},
			notIn: []string{"parking queue", "lower its priority"}},
		{name: "expires", qtype: "classic", extra: state(map[string]any{"expires": float64(3600000)}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{"deletes a state queue left unused"}},
		{name: "max-length", qtype: "quorum", extra: state(map[string]any{"max-length": float64(1000000)}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{"drops its oldest checkpoints"}},
		{name: "max-length-bytes", qtype: "classic", extra: state(map[string]any{"max-length-bytes": float64(1 << 30)}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{"max-length-bytes 1073741824: a state queue that reaches it"}},
		{name: "overflow", qtype: "quorum", extra: state(map[string]any{"overflow": "reject-publish"}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{`overflow "reject-publish"`, "must never have a limit"}},
		{name: "dead-letter-exchange", qtype: "classic", extra: state(map[string]any{"dead-letter-exchange": "g.work"}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{`dead-letter-exchange "g.work"`, "folded twice"}},
		{name: "delivery-limit on quorum", qtype: "quorum", extra: state(map[string]any{"delivery-limit": float64(100)}),
			severity: SeverityError, queues: []string{"s.state"}, detail: []string{"each failover of the gather's active instance redelivers"}},
		{name: "classic queues pass over delivery-limit", qtype: "classic", extra: state(map[string]any{"delivery-limit": float64(1)})},
		{name: "catch-all below dge's: the parking queues and the state queue", qtype: "quorum",
			extra:    []Policy{{Name: "ops", Pattern: ".*", ApplyTo: "queues", Priority: 50, Definition: map[string]any{"max-length": float64(10)}}},
			severity: SeverityError, queues: []string{"a.dead", "s.dead", "s.state"}, summary: "can lose messages of 3 queues",
			detail: []string{"which its max-length can lose", "a parking queue (.dead) that reaches it drops its oldest message", "drops its oldest checkpoints"}},
		{name: "operator message-ttl", qtype: "quorum", ops: state(map[string]any{"message-ttl": float64(60000)}),
			severity: SeverityError, queues: []string{"s.state"},
			detail: []string{"The gather state queues (s.state) hold each unfinished split's checkpoint", "expires and is dropped",
				"rabbitmqctl set_operator_policy -p v --priority 0 --apply-to queues ops " + exclusion},
			notIn: []string{"parking queue"}},
		{name: "operator delivery-limit above dge's reaches the state queue", qtype: "quorum",
			ops:      []Policy{{Name: "ops", Pattern: `^s`, ApplyTo: "queues", Priority: 0, Definition: map[string]any{"delivery-limit": float64(50)}}},
			severity: SeverityError, queues: []string{"s.dead", "s.retry", "s.state"}, detail: []string{"before dge's own crash threshold", "each failover"}},
		{name: "state queue excluded", qtype: "quorum", ops: []Policy{{Name: "ops", Pattern: `^(?!(?:a|s)(?:\.retry|\.dead|\.poll|\.state)?$).*`, ApplyTo: "queues", Priority: 0, Definition: map[string]any{"max-length": float64(1)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := gatherGraph(tc.qtype)
			snap := liveOf(want, tc.extra, nil)
			snap.OperatorPolicies = tc.ops
			ds := CheckPolicies(want, snap)
			if tc.severity == "" {
				if len(ds) > 0 {
					t.Fatalf("got diagnostics %+v, want none", ds)
				}
				return
			}
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics %+v, want 1", len(ds), ds)
			}
			d := ds[0]
			if d.Severity != tc.severity || d.Policy != "ops" {
				t.Errorf("severity %s, policy %q; want %s, ops", d.Severity, d.Policy, tc.severity)
			}
			if diff := cmp.Diff(tc.queues, d.Queues); diff != "" {
				t.Errorf("queues (-want +got):\n%s", diff)
			}
			if !strings.Contains(d.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", d.Summary, tc.summary)
			}
			for _, w := range tc.detail {
				if !strings.Contains(d.Detail, w) {
					t.Errorf("detail lacks %q:\n%s", w, d.Detail)
				}
			}
			for _, w := range tc.notIn {
				if strings.Contains(d.Detail, w) {
					t.Errorf("detail has %q:\n%s", w, d.Detail)
				}
			}
			if !strings.Contains(d.Detail, "To fix: exclude dge's queues") {
				t.Errorf("detail lacks the fix:\n%s", d.Detail)
			}
		})
	}
}
