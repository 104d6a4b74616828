package plan_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// arith builds the reference graph (examples/arith) by hand, as the loader
// would return it.
func arith(qt config.QueueType) *config.Graph {
	g := &config.Graph{Name: "arith", Broker: config.Broker{
		Vhost: "/", QueueType: qt, WorkExchange: "arith.work", RetryExchange: "arith.retry", PollExchange: "arith.poll",
	}}
	edge := func(q, msg string, retry time.Duration) *config.Edge {
		return &config.Edge{Queue: q, Message: msg, Retry: retry, MaxAttempts: config.DefaultMaxAttempts,
			Prefetch: config.DefaultPrefetch, Concurrency: config.DefaultConcurrency}
	}
	start := &config.Node{Kind: config.KindStart, Name: "start"}
	dup := &config.Node{Kind: config.KindFanOut, Name: "duplicate_input", From: []*config.Node{start}, Edge: edge("input", "Integer", 10*time.Second)}
	double := &config.Node{Kind: config.KindProcess, Name: "double", From: []*config.Node{dup}, Edge: edge("input_copy_1", "Integer", config.DefaultRetry), Handler: "Double"}
	square := &config.Node{Kind: config.KindProcess, Name: "square", From: []*config.Node{dup}, Edge: edge("input_copy_2", "Integer", config.DefaultRetry), Handler: "Square"}
	mult := &config.Node{Kind: config.KindAggregate, Name: "multiply", From: []*config.Node{double, square}, Edge: edge("multiply", "Integer", config.DefaultRetry), Handler: "Multiply", Timeout: config.DefaultAggregateTimeout}
	poll := &config.Node{Kind: config.KindPoll, Name: "rest_call", From: []*config.Node{mult}, Edge: edge("rest_call", "Float", config.DefaultRetry), Handler: "RestCall", Interval: time.Second, Timeout: 10 * time.Minute}
	result := &config.Node{Kind: config.KindTerminate, Name: "result", From: []*config.Node{poll}, Edge: edge("result", "Integer", config.DefaultRetry)}
	g.Nodes = []*config.Node{start, dup, double, square, mult, poll, result}
	for _, n := range g.Nodes {
		for _, f := range n.From {
			f.To = append(f.To, n)
		}
	}
	return g
}

func TestCompactDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"},
		{500 * time.Millisecond, "500ms"},
		{2 * time.Hour, "2h"},
		{time.Hour + 30*time.Second, "1h30s"},
		{1500 * time.Millisecond, "1s500ms"},
		{0, "0s"},
	} {
		if got := plan.CompactDuration(tc.d); got != tc.want {
			t.Errorf("CompactDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestPattern(t *testing.T) {
	got := plan.Pattern([]string{"b.x", "a", "c+d"}, ".retry")
	want := `^(?:a|b\.x|c\+d)\.retry$`
	if got != want {
		t.Errorf("Pattern = %q, want %q", got, want)
	}
}

func TestOwnsPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"dge.arith.work", true},
		{"dge.arith.retry.10s", true},
		{"dge.arith.poll.1m30s", true},
		{"dge.arith.custom", false},
		{"dge.arith2.work", false},
		{"dge.arith.b.work", false},
		{"arith.work", false},
	} {
		if got := plan.OwnsPolicy("arith", tc.name); got != tc.want {
			t.Errorf("OwnsPolicy(arith, %q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDesiredQuorum(t *testing.T) {
	top := plan.Desired(arith(config.QueueQuorum))
	var names []string
	for _, e := range top.Exchanges {
		names = append(names, e.Name)
	}
	if diff := cmp.Diff([]string{"arith.poll", "arith.retry", "arith.work"}, names); diff != "" {
		t.Errorf("exchanges (-want +got):\n%s", diff)
	}
	if len(top.Queues) != 6*3+1 {
		t.Errorf("got %d queues, want 19 (6 edges x 3, plus rest_call.poll)", len(top.Queues))
	}
	for _, q := range top.Queues {
		if q.Type != "quorum" || !q.Durable || q.AutoDelete || q.Arguments[plan.GraphArg] != "arith" {
			t.Errorf("queue %s: %+v", q.Name, q)
		}
		_, sac := q.Arguments["x-single-active-consumer"]
		if sac != (q.Name == "multiply") {
			t.Errorf("queue %s: x-single-active-consumer present = %v", q.Name, sac)
		}
	}
	pols := map[string]plan.Policy{}
	for _, p := range top.Policies {
		pols[p.Name] = p
		if p.Priority != plan.PolicyPriority || p.ApplyTo != "queues" {
			t.Errorf("policy %s: %+v", p.Name, p)
		}
	}
	want := map[string]plan.Policy{
		"dge.arith.work": {Name: "dge.arith.work", Pattern: `^(?:input|input_copy_1|input_copy_2|multiply|rest_call|result)$`,
			ApplyTo: "queues", Priority: 100, Definition: map[string]any{
				"dead-letter-exchange": "arith.retry", "dead-letter-strategy": "at-least-once",
				"overflow": "reject-publish", "delivery-limit": float64(5)}},
		"dge.arith.retry.10s": {Name: "dge.arith.retry.10s", Pattern: `^(?:input)\.retry$`, ApplyTo: "queues", Priority: 100,
			Definition: map[string]any{"message-ttl": float64(10000), "dead-letter-exchange": "arith.work",
				"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}},
		"dge.arith.retry.5s": {Name: "dge.arith.retry.5s", Pattern: `^(?:input_copy_1|input_copy_2|multiply|rest_call|result)\.retry$`,
			ApplyTo: "queues", Priority: 100, Definition: map[string]any{"message-ttl": float64(5000), "dead-letter-exchange": "arith.work",
				"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}},
		"dge.arith.poll.1s": {Name: "dge.arith.poll.1s", Pattern: `^(?:rest_call)\.poll$`, ApplyTo: "queues", Priority: 100,
			Definition: map[string]any{"message-ttl": float64(1000), "dead-letter-exchange": "arith.work",
				"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}},
	}
	if diff := cmp.Diff(want, pols); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	var binds []string
	for _, b := range top.Bindings {
		binds = append(binds, b.Address())
	}
	for _, w := range []string{"binding.arith.work->input[input]", "binding.arith.retry->input.retry[input]",
		"binding.arith.work->input.dead[input.dead]", "binding.arith.poll->rest_call.poll[rest_call]"} {
		found := false
		for _, b := range binds {
			found = found || b == w
		}
		if !found {
			t.Errorf("missing binding %s in %v", w, binds)
		}
	}
}

func TestDesiredClassicPolicyKeys(t *testing.T) {
	top := plan.Desired(arith(config.QueueClassic))
	for _, p := range top.Policies {
		for _, k := range []string{"delivery-limit", "dead-letter-strategy", "overflow"} {
			if _, ok := p.Definition[k]; ok {
				t.Errorf("classic policy %s has %s, which classic queues do not support", p.Name, k)
			}
		}
	}
	if top.Queues[0].Type != "classic" {
		t.Errorf("queue type %q, want classic", top.Queues[0].Type)
	}
}

// TestDesiredQueueArguments: what delivery depends on is in queue
// arguments, which no policy overrides; the parking queues need none.
func TestDesiredQueueArguments(t *testing.T) {
	quorumPair := map[string]any{"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
	with := func(m map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{plan.GraphArg: "arith"}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		qt   config.QueueType
		want map[string]map[string]any
	}{
		{config.QueueQuorum, map[string]map[string]any{
			"input":          with(map[string]any{"x-dead-letter-exchange": "arith.retry"}, quorumPair),
			"multiply":       with(map[string]any{"x-dead-letter-exchange": "arith.retry", "x-single-active-consumer": true}, quorumPair),
			"input.retry":    with(map[string]any{"x-dead-letter-exchange": "arith.work"}, quorumPair),
			"rest_call.poll": with(map[string]any{"x-dead-letter-exchange": "arith.work"}, quorumPair),
			"input.dead":     with(nil, nil),
		}},
		{config.QueueClassic, map[string]map[string]any{
			"input":          with(map[string]any{"x-dead-letter-exchange": "arith.retry"}, nil),
			"multiply":       with(map[string]any{"x-dead-letter-exchange": "arith.retry", "x-single-active-consumer": true}, nil),
			"input.retry":    with(map[string]any{"x-dead-letter-exchange": "arith.work"}, nil),
			"rest_call.poll": with(map[string]any{"x-dead-letter-exchange": "arith.work"}, nil),
			"input.dead":     with(nil, nil),
		}},
	} {
		t.Run(string(tc.qt), func(t *testing.T) {
			got := map[string]map[string]any{}
			for _, q := range plan.Desired(arith(tc.qt)).Queues {
				if _, ok := tc.want[q.Name]; ok {
					got[q.Name] = q.Arguments
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("queue arguments (-want +got):\n%s", diff)
			}
		})
	}
}

// fibsum builds the seed's split/gather graph by hand: start → split
// numbers → process fib → gather sum → terminate total.
func fibsum(qt config.QueueType) *config.Graph {
	g := &config.Graph{Name: "fibsum", Broker: config.Broker{
		Vhost: "/", QueueType: qt, WorkExchange: "fibsum.work", RetryExchange: "fibsum.retry", PollExchange: "fibsum.poll",
	}}
	edge := func(q, msg string) *config.Edge {
		return &config.Edge{Queue: q, Message: msg, Retry: config.DefaultRetry, MaxAttempts: config.DefaultMaxAttempts,
			Prefetch: config.DefaultPrefetch, Concurrency: config.DefaultConcurrency}
	}
	start := &config.Node{Kind: config.KindStart, Name: "in"}
	split := &config.Node{Kind: config.KindSplit, Name: "numbers", From: []*config.Node{start}, Edge: edge("numbers", "Range"), Handler: "Numbers"}
	fib := &config.Node{Kind: config.KindProcess, Name: "fib", From: []*config.Node{split}, Edge: edge("fib", "Number"), Handler: "FibAt"}
	sum := &config.Node{Kind: config.KindGather, Name: "sum", From: []*config.Node{fib}, Over: split, Edge: edge("sum", "Number"),
		Handler: "Sum", Zero: "NewTotal", Timeout: config.DefaultGatherTimeout}
	total := &config.Node{Kind: config.KindTerminate, Name: "total", From: []*config.Node{sum}, Edge: edge("total", "Total")}
	g.Nodes = []*config.Node{start, split, fib, sum, total}
	for _, n := range g.Nodes {
		for _, f := range n.From {
			f.To = append(f.To, n)
		}
	}
	return g
}

// TestDesiredGatherState: a gather's edge sum has a state queue sum.state
// with a single active consumer and nothing that could expire, cap or
// dead-letter a checkpoint: no dead-letter argument, and no policy of
// dge's matches it (the work policy's delivery-limit and dead-letter
// settings must not reach it).
func TestDesiredGatherState(t *testing.T) {
	for _, qt := range []config.QueueType{config.QueueQuorum, config.QueueClassic} {
		t.Run(string(qt), func(t *testing.T) {
			top := plan.Desired(fibsum(qt))
			var state *plan.Queue
			var names []string
			for i, q := range top.Queues {
				names = append(names, q.Name)
				if q.Name == "sum.state" {
					state = &top.Queues[i]
				}
			}
			if state == nil {
				t.Fatalf("no queue sum.state among %v", names)
			}
			want := map[string]any{plan.GraphArg: "fibsum", "x-single-active-consumer": true}
			if diff := cmp.Diff(want, state.Arguments); diff != "" {
				t.Errorf("sum.state arguments (-want +got):\n%s", diff)
			}
			if state.Type != string(qt) || !state.Durable || state.AutoDelete {
				t.Errorf("sum.state: %+v", *state)
			}
			for _, q := range []string{"numbers.state", "fib.state", "total.state"} {
				for _, n := range names {
					if n == q {
						t.Errorf("queue %s: only a gather's edge has a state queue", q)
					}
				}
			}
			for _, p := range top.Policies {
				if regexp.MustCompile(p.Pattern).MatchString("sum.state") {
					t.Errorf("dge's policy %s (pattern %q) matches sum.state", p.Name, p.Pattern)
				}
			}
			bound := false
			for _, b := range top.Bindings {
				bound = bound || (b.Source == "fibsum.work" && b.Destination == "sum.state" && b.RoutingKey == "sum.state")
			}
			if !bound {
				t.Errorf("no binding fibsum.work -> sum.state [sum.state] in %+v", top.Bindings)
			}
		})
	}
}
