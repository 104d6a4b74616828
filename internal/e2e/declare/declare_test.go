package declare_test

import (
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/e2e/declare"
	"github.com/dgehq/dge/plan"
)

// specOf is the Spec of g, as the end-to-end tests build it.
func specOf(g *config.Graph) declare.Spec {
	s := declare.Spec{Graph: g.Name, WorkExchange: g.Broker.WorkExchange, RetryExchange: g.Broker.RetryExchange,
		Classic: g.Broker.QueueType == config.QueueClassic}
	for _, n := range g.Nodes {
		if n.Kind == config.KindPoll {
			s.PollExchange = g.Broker.PollExchange
		}
		if n.Edge == nil {
			continue
		}
		q := declare.Queue{Name: n.Edge.Queue, Retry: n.Edge.Retry, MaxAttempts: n.Edge.MaxAttempts, SingleActive: n.Kind == config.KindAggregate}
		if n.Kind == config.KindPoll {
			q.Poll = n.Interval
		}
		s.Queues = append(s.Queues, q)
	}
	return s
}

// policyKeys are the arguments declare sets that dge apply keeps in its
// policies instead, so that it can change them in place.
var policyKeys = map[string]bool{"x-message-ttl": true, "x-delivery-limit": true}

// TestDeclareAgreesWithPlan: declare declares the queues plan.Desired
// wants, with every argument plan.Desired gives them (the same values), and
// beyond those only what dge keeps in policies.
func TestDeclareAgreesWithPlan(t *testing.T) {
	for _, qt := range []config.QueueType{config.QueueQuorum, config.QueueClassic} {
		for _, dir := range []string{"../../../examples/arith", "../../../testdata/e2e/chain"} {
			t.Run(string(qt)+" "+filepath.Base(dir), func(t *testing.T) {
				g, diags := config.NewLoader().Load(dir, config.Options{})
				if diags.HasErrors() {
					t.Fatalf("load %s: %v", dir, diags)
				}
				g.Broker.QueueType = qt
				want := map[string]map[string]any{}
				for _, q := range plan.Desired(g).Queues {
					args := plan.NormalizeMap(q.Arguments)
					if q.Type == "quorum" {
						args["x-queue-type"] = "quorum"
					}
					want[q.Name] = args
				}
				got := map[string]map[string]any{}
				for _, d := range declare.Decls(specOf(g)) {
					got[d.Name] = plan.NormalizeMap(d.Arguments)
				}
				if names(want) != names(got) {
					t.Fatalf("declare declares %v, plan.Desired wants %v", names(got), names(want))
				}
				for name, w := range want {
					for k, v := range w {
						if !reflect.DeepEqual(got[name][k], v) {
							t.Errorf("queue %s: argument %s = %v, plan.Desired has %v", name, k, got[name][k], v)
						}
					}
					for k := range got[name] {
						if _, ok := w[k]; !ok && !policyKeys[k] {
							t.Errorf("queue %s: argument %s that plan.Desired neither sets nor keeps in a policy", name, k)
						}
					}
				}
			})
		}
	}
}

func names(m map[string]map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
