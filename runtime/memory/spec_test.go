package memory

import (
	"context"
	"slices"
	"testing"
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/topology"
	"github.com/google/go-cmp/cmp"
)

type num struct{ Value int }

// specGraph has a node of every kind, so its topology holds a queue of
// every role: work (process), single active (aggregate), Q.poll (poll).
func specGraph(queueType string) dge.Graph {
	e := func(q string) dge.Edge {
		return dge.Edge{Queue: q, Message: "num", Retry: time.Second, MaxAttempts: 3, Prefetch: 8, Concurrency: 2}
	}
	return dge.Graph{
		Name: "spec", Source: "spec.dge.hcl", QueueType: queueType,
		WorkExchange: "spec.work", RetryExchange: "spec.retry", PollExchange: "spec.poll",
		Nodes: []dge.Node{
			dge.Start[num]("start", "work"),
			dge.Process[num, num]("p", e("work"), func(_ context.Context, n num) (num, error) { return n, nil }, "join"),
			dge.Aggregate[num, num]("j", e("join"), []string{"process.p", "process.q"}, time.Minute,
				func(_ context.Context, parts []num) (num, error) { return parts[0], nil }, "polled"),
			dge.Poll[num, num]("poll", e("polled"), time.Second, time.Minute,
				func(_ context.Context, n num) (num, bool, error) { return n, true, nil }, "result"),
			dge.Terminate[num]("result", e("result")),
		},
	}
}

// TestBrokerIsTheSpec checks that New builds exactly the objects of the
// graph's Spec, as dge apply creates them (the runtime's topology tests
// check that Spec and dge apply agree), for both queue types.
func TestBrokerIsTheSpec(t *testing.T) {
	for _, qt := range []string{topology.Quorum, topology.Classic} {
		t.Run(qt, func(t *testing.T) {
			g := specGraph(qt)
			spec := g.Spec()
			b := New(g, Options{})
			defer b.Close()

			var xs, bindings []string
			for name, x := range b.exchanges {
				xs = append(xs, name)
				for key, qs := range x.bindings {
					for _, q := range qs {
						bindings = append(bindings, name+" -> "+q.name+" key "+key)
					}
				}
			}
			var wantBindings []string
			for _, bd := range spec.Bindings {
				wantBindings = append(wantBindings, bd.Exchange+" -> "+bd.Queue+" key "+bd.Key)
			}
			slices.Sort(xs)
			slices.Sort(bindings)
			slices.Sort(wantBindings)
			if diff := cmp.Diff(slices.Sorted(slices.Values(spec.Exchanges)), xs); diff != "" {
				t.Errorf("exchanges (-spec +broker):\n%s", diff)
			}
			if diff := cmp.Diff(wantBindings, bindings); diff != "" {
				t.Errorf("bindings (-spec +broker):\n%s", diff)
			}

			got := map[string]topology.Queue{}
			for name, q := range b.queues {
				if q.quorum != (qt == topology.Quorum) {
					t.Errorf("queue %s: quorum %v with queue type %s", name, q.quorum, qt)
				}
				got[name] = topology.Queue{Name: name, DeadLetterExchange: q.dlx, TTL: q.ttl, SingleActive: q.singleActive, DeliveryLimit: q.deliveryLimit}
			}
			want := map[string]topology.Queue{}
			roles := map[topology.Role]bool{}
			for _, q := range spec.Queues {
				roles[q.Role] = true
				if q.Role == topology.RoleDead != b.queues[q.Name].dead {
					t.Errorf("queue %s (role %v): dead %v", q.Name, q.Role, b.queues[q.Name].dead)
				}
				want[q.Name] = topology.Queue{Name: q.Name, DeadLetterExchange: q.DeadLetterExchange, TTL: q.TTL, SingleActive: q.SingleActive, DeliveryLimit: q.DeliveryLimit}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("queues (-spec +broker):\n%s", diff)
			}
			if len(roles) < 4 {
				t.Errorf("the spec has queues of roles %v only, want work, retry, dead and poll", roles)
			}
		})
	}
}
