package apply_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/dgehq/dge/plan"
)

// TestForeignPolicyRefusedBeforeAnyChange: with an operator's catch-all
// policy above dge's priority, the plan carries an error naming it and
// apply changes nothing; as an operator policy (merged with dge's, but
// capping every queue) it is refused the same way; once its pattern
// excludes the graph's queues (the fix plan prints) the same graph applies
// and converges, with dge's policy governing.
func TestForeignPolicyRefusedBeforeAnyChange(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", poll: true}
	limit := map[string]any{"max-length": 1000000}
	if err := f.client.PutPolicy(t.Context(), f.vh.Name, plan.Policy{Name: "ops-limit", Pattern: ".*", ApplyTo: "queues", Priority: 200, Definition: limit}); err != nil {
		t.Fatal(err)
	}
	p := f.mustPlan(t, s)
	errs := p.Errors()
	if len(errs) != 1 || errs[0].Policy != "ops-limit" || len(errs[0].Queues) != 10 {
		t.Fatalf("plan errors %+v; want one naming ops-limit over the 10 work, retry, poll and parking queues", errs)
	}
	_, err := f.apply(t, p, true)
	var de *plan.DiagnosticError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), `Policy "ops-limit" (priority 200) overrides dge's policies`) {
		t.Fatalf("apply: %v; want a *plan.DiagnosticError naming ops-limit", err)
	}
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Queues)+len(snap.Exchanges) > 0 || len(snap.Policies) != 1 {
		t.Errorf("the refused apply changed the vhost: %d queues, %d exchanges, %d policies", len(snap.Queues), len(snap.Exchanges), len(snap.Policies))
	}

	// An operator policy is merged, not chosen, but its max-length still
	// caps every queue: refused too.
	res, err := f.vh.Client.DeletePolicy(f.vh.Name, "ops-limit")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	putOperator := func(pattern string) {
		res, err := f.vh.Client.PutOperatorPolicy(f.vh.Name, "ops-limit", rabbithole.OperatorPolicy{
			Pattern: pattern, ApplyTo: "queues", Priority: 200, Definition: limit})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	putOperator(".*")
	p = f.mustPlan(t, s)
	if errs := p.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Summary, `Operator policy "ops-limit"`) || len(errs[0].Queues) != 10 {
		t.Fatalf("plan errors %+v; want one naming operator policy ops-limit over the 10 queues", errs)
	}
	// The fix the error names: the operator policy keeps away from dge's queues.
	putOperator(plan.ExcludePattern(p.Desired, ".*"))
	f.converge(t, s)
	deadline := time.Now().Add(time.Minute)
	for {
		q := f.queuePolicies(t, "a_in")
		if q.Policy == "dge.g.work" && q.OperatorPolicy == "" {
			if q.Effective["max-length"] != nil || q.Effective["delivery-limit"] == nil {
				t.Errorf("a_in's effective policy %v; want dge's delivery-limit and no max-length", q.Effective)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a_in shows policy %q and operator policy %q after a minute; want dge.g.work and none", q.Policy, q.OperatorPolicy)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type queuePolicies struct {
	Policy         string         `json:"policy"`
	OperatorPolicy string         `json:"operator_policy"`
	Effective      map[string]any `json:"effective_policy_definition"`
}

// queuePolicies reads the policies the management API shows on a queue.
func (f *fixture) queuePolicies(t *testing.T, queue string) queuePolicies {
	t.Helper()
	u := strings.TrimSuffix(f.vh.ManagementURL, "/") + "/api/queues/" + url.PathEscape(f.vh.Name) + "/" + url.PathEscape(queue)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("read queue %s: %v", queue, err)
	}
	defer res.Body.Close()
	var q queuePolicies
	if err := json.NewDecoder(res.Body).Decode(&q); err != nil {
		t.Fatalf("read queue %s: %s: %v", queue, res.Status, err)
	}
	return q
}

// TestStateQueuePoliciesRefused: a gather's state queue g_in.state is
// created with its single active consumer and governed by no policy of
// dge's (the work queues' delivery-limit and dead-letter settings never
// reach it). A policy of the operators that gives .state queues a
// message-ttl, even at priority 0, is a plan error about the checkpoints
// and apply changes nothing; an operator policy capping them likewise;
// with the exclusion plan suggests, the same graph converges.
func TestStateQueuePoliciesRefused(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", gather: true}
	f.converge(t, s)
	deadline := time.Now().Add(time.Minute)
	for f.queuePolicies(t, "g_in").Policy != "dge.g.work" {
		if time.Now().After(deadline) {
			t.Fatalf("g_in shows no policy dge.g.work after a minute")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if q := f.queuePolicies(t, "g_in.state"); q.Policy != "" || len(q.Effective) > 0 {
		t.Errorf("g_in.state shows policy %q, effective %v; want none: no dge policy may govern a state queue", q.Policy, q.Effective)
	}
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range snap.Queues {
		if q.Name == "g_in.state" {
			if q.Arguments["x-single-active-consumer"] != true || q.Arguments["x-dead-letter-exchange"] != nil {
				t.Errorf("g_in.state arguments %v; want a single active consumer and no dead-letter exchange", q.Arguments)
			}
		}
	}

	ttl := plan.Policy{Name: "keep-a-day", Pattern: `\.state$`, ApplyTo: "queues", Priority: 0, Definition: map[string]any{"message-ttl": 86400000}}
	if err := f.client.PutPolicy(t.Context(), f.vh.Name, ttl); err != nil {
		t.Fatal(err)
	}
	s.retry = "7s" // a change apply must not make
	p := f.mustPlan(t, s)
	errs := p.Errors()
	if len(errs) != 1 || errs[0].Policy != "keep-a-day" || len(errs[0].Queues) != 1 || errs[0].Queues[0] != "g_in.state" ||
		!strings.Contains(errs[0].Summary, "can lose the checkpoints of 1 gather state queue") {
		t.Fatalf("plan errors %+v; want one naming keep-a-day over g_in.state's checkpoints", errs)
	}
	if _, err := f.apply(t, p, false); err == nil || !strings.Contains(err.Error(), "keep-a-day") {
		t.Fatalf("apply: %v; want a refusal naming keep-a-day", err)
	}
	for _, pol := range mustRead(t, f).Policies {
		if pol.Name == "dge.g.retry.7s" {
			t.Fatalf("the refused apply wrote policy %s", pol.Name)
		}
	}

	// The operator policy form is refused too.
	res, err := f.vh.Client.DeletePolicy(f.vh.Name, ttl.Name)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	putOperator := func(pattern string) {
		res, err := f.vh.Client.PutOperatorPolicy(f.vh.Name, "cap", rabbithole.OperatorPolicy{
			Pattern: pattern, ApplyTo: "queues", Priority: 0, Definition: map[string]any{"max-length": 100000}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	putOperator(`\.state$`)
	p = f.mustPlan(t, s)
	if errs := p.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Detail, "drops its oldest checkpoints") || len(errs[0].Queues) != 1 {
		t.Fatalf("plan errors %+v; want one naming operator policy cap over g_in.state's checkpoints", errs)
	}
	putOperator(plan.ExcludePattern(p.Desired, `\.state$`))
	f.converge(t, s)
}

func mustRead(t *testing.T, f *fixture) *plan.Snapshot {
	t.Helper()
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
