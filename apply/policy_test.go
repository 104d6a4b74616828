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
