package runtime

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
	"github.com/google/go-cmp/cmp"
)

// graphDirs returns every folder under testdata/ and examples/ (and the
// generator's test cases) that holds a graph which loads without errors.
func graphDirs(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, root := range []string{"../testdata", "../examples", "../internal/gen/testdata"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, config.FileSuffix) {
				seen[filepath.Dir(path)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var dirs []string
	for dir := range seen {
		if _, diags := config.NewLoader().Load(dir, config.Options{}); !diags.HasErrors() {
			dirs = append(dirs, dir)
		}
	}
	slices.Sort(dirs)
	if len(dirs) < 10 {
		t.Fatalf("found %d valid graphs (%v), want every graph of the repository", len(dirs), dirs)
	}
	return dirs
}

// generatedGraph builds the Graph dge generate writes for g: the same
// constructors with the same names, edges, exchanges and queue type (the
// message types and handlers do not shape the topology).
func generatedGraph(g *config.Graph) Graph {
	type msg = json.RawMessage
	rg := Graph{
		Name: g.Name, Vhost: g.Broker.Vhost, QueueType: string(g.Broker.QueueType),
		WorkExchange: g.Broker.WorkExchange, RetryExchange: g.Broker.RetryExchange,
	}
	if g.HasPoll() {
		rg.PollExchange = g.Broker.PollExchange
	}
	for _, m := range g.Moved {
		if rg.Moved == nil {
			rg.Moved = map[string]string{}
		}
		rg.Moved[m.From] = m.To
	}
	queues := func(ns []*config.Node) []string {
		var qs []string
		for _, n := range ns {
			qs = append(qs, n.Edge.Queue)
		}
		return qs
	}
	for _, n := range g.Nodes {
		var e Edge
		if n.Edge != nil {
			e = Edge{Queue: n.Edge.Queue, Message: n.Edge.Message, Retry: n.Edge.Retry, MaxAttempts: n.Edge.MaxAttempts,
				Prefetch: n.Edge.Prefetch, Concurrency: n.Edge.Concurrency}
		}
		to := queues(n.To)
		first := func() string { return to[0] }
		var node Node
		switch n.Kind {
		case config.KindStart:
			node = Start[msg](n.Name, to...)
		case config.KindProcess:
			node = Process[msg, msg](n.Name, e, nil, first())
		case config.KindFanOut:
			node = FanOut[msg](n.Name, e, to...)
		case config.KindAggregate:
			var from []string
			for _, f := range n.From {
				from = append(from, f.Addr())
			}
			node = Aggregate[msg, msg](n.Name, e, from, n.Timeout, func(context.Context, []msg) (msg, error) { return nil, nil }, first())
		case config.KindPoll:
			node = Poll[msg, msg](n.Name, e, n.Interval, n.Timeout, nil, first())
		case config.KindRoute:
			paths, fallback := map[string]string{}, ""
			for _, p := range n.To {
				if p.When == config.WhenDefault {
					fallback = p.Edge.Queue
				} else {
					paths[p.When] = p.Edge.Queue
				}
			}
			node = Route[msg](n.Name, e, nil, paths, fallback)
		case config.KindSplit:
			node = Split[msg, msg](n.Name, e, nil, first())
		case config.KindGather:
			over := ""
			if n.Over != nil {
				over = n.Over.Name
			}
			node = Gather[msg, msg](n.Name, e, over, n.Timeout, nil, first())
		case config.KindTerminate:
			node = Terminate[msg](n.Name, e)
		}
		rg.Nodes = append(rg.Nodes, node)
	}
	return rg
}

// objects is a topology reduced to what must agree between its readers.
type objects struct {
	Exchanges []string
	Queues    map[string]string // name → type, dead-letter exchange, single active consumer
	Bindings  []string          // exchange -> queue key k
}

func describeQueue(qtype, dlx string, single bool) string {
	return qtype + " dlx=" + dlx + " single-active=" + map[bool]string{true: "yes", false: "no"}[single]
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestTopologyReadersAgree checks, for every graph of the repository and
// both queue types, that what dge apply creates (plan.Desired), what the
// generated program expects (its start-up check and its topology
// subcommand), the in-memory broker's queues and what the tests declare
// are the same objects.
func TestTopologyReadersAgree(t *testing.T) {
	for _, dir := range graphDirs(t) {
		for _, qt := range []config.QueueType{config.QueueQuorum, config.QueueClassic} {
			t.Run(dir+" "+string(qt), func(t *testing.T) {
				cfg, _ := config.NewLoader().Load(dir, config.Options{})
				cfg.Broker.QueueType = qt
				desired := plan.Desired(cfg)

				// dge apply.
				apply := objects{Queues: map[string]string{}}
				for _, x := range desired.Exchanges {
					apply.Exchanges = append(apply.Exchanges, x.Name)
				}
				for _, q := range desired.Queues {
					dlx, _ := q.Arguments["x-dead-letter-exchange"].(string)
					single, _ := q.Arguments["x-single-active-consumer"].(bool)
					apply.Queues[q.Name] = describeQueue(q.Type, dlx, single)
				}
				for _, b := range desired.Bindings {
					apply.Bindings = append(apply.Bindings, b.Source+" -> "+b.Destination+" key "+b.RoutingKey)
				}
				apply.Exchanges, apply.Bindings = sorted(apply.Exchanges), sorted(apply.Bindings)

				// The generated program: the graph it is given, its start-up
				// check and its topology subcommand.
				rg := generatedGraph(cfg)
				if diff := cmp.Diff(plan.TopologyParams(cfg), rg.topologyParams()); diff != "" {
					t.Errorf("the generated program's graph differs from dge plan's (-plan +program):\n%s", diff)
				}
				spec := rg.Spec()
				var checkedQ, checkedX []string
				for _, n := range rg.Nodes {
					qs, xs := nodeObjects(spec, n)
					checkedQ, checkedX = append(checkedQ, qs...), append(checkedX, xs...)
				}
				checkedQ, checkedX = sorted(slices.Compact(sorted(checkedQ))), sorted(slices.Compact(sorted(checkedX)))
				if want := sorted(mapKeys(apply.Queues)); !slices.Equal(checkedQ, want) {
					t.Errorf("the program checks queues %v at start, dge apply creates %v", checkedQ, want)
				}
				if !slices.Equal(checkedX, apply.Exchanges) {
					t.Errorf("the program checks exchanges %v at start, dge apply creates %v", checkedX, apply.Exchanges)
				}
				listing := rg.TopologyText()
				for name := range apply.Queues {
					if !strings.Contains(listing, "queue  "+name+" ") && !strings.Contains(listing, " "+name+"  ") {
						t.Errorf("the topology subcommand does not list queue %s:\n%s", name, listing)
					}
				}

				for _, b := range desired.Bindings {
					if !slices.ContainsFunc(strings.Split(listing, "\n"), func(l string) bool {
						return strings.Contains(l, " "+b.Source+" -> "+b.Destination+" ") && strings.HasSuffix(l, " key "+b.RoutingKey)
					}) {
						t.Errorf("the topology subcommand does not list binding %s:\n%s", b.Address(), listing)
					}
				}

				// The in-memory broker (package memory checks that it builds
				// each object as Spec describes it), which routes every
				// binding dge apply creates, old keys of renamed queues too.
				mem := newMemory(rg, 0, 0)
				defer mem.Close()
				if diff := cmp.Diff(sorted(mapKeys(apply.Queues)), mem.Queues()); diff != "" {
					t.Errorf("the in-memory broker's queues differ from dge apply's (-apply +memory):\n%s", diff)
				}
				for _, b := range desired.Bindings {
					before, _ := mem.Messages(b.Destination)
					if err := mem.Deliver(b.Source, b.RoutingKey, Message{Body: []byte("1")}); err != nil {
						t.Errorf("the in-memory broker does not route binding %s: %v", b.Address(), err)
						continue
					}
					if after, _ := mem.Messages(b.Destination); len(after) != len(before)+1 {
						t.Errorf("the in-memory broker routes %s with key %s, but not to %s", b.Source, b.RoutingKey, b.Destination)
					}
				}

				// The tests' declarations: every argument dge apply sets, and
				// beyond those only what apply keeps in policies.
				declared := brokertest.DeclaredArguments(plan.TopologyParams(cfg))
				for _, q := range desired.Queues {
					want := plan.NormalizeMap(q.Arguments)
					if q.Type == topology.Quorum {
						want["x-queue-type"] = topology.Quorum
					}
					have := plan.NormalizeMap(declared[q.Name])
					for k, v := range want {
						if !reflect.DeepEqual(have[k], v) {
							t.Errorf("declare: queue %s argument %s = %v, dge apply sets %v", q.Name, k, have[k], v)
						}
					}
					for k := range have {
						if _, ok := want[k]; !ok && k != "x-message-ttl" && k != "x-delivery-limit" {
							t.Errorf("declare: queue %s argument %s that dge apply neither sets nor keeps in a policy", q.Name, k)
						}
					}
				}
				if len(declared) != len(desired.Queues) {
					t.Errorf("declare declares %d queues, dge apply %d", len(declared), len(desired.Queues))
				}
			})
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
