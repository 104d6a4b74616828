package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// graphView is the part of a Graph the loader tests compare: everything
// but source ranges, with nodes named by address.
type graphView struct {
	Name, Handlers, OnFailure string
	Broker                    config.Broker
	Files                     []string
	Nodes                     []nodeView
}

type nodeView struct {
	Addr     string
	From, To []string
	Handler  string
	Edge     *edgeView
	Interval time.Duration
	Timeout  time.Duration
	// Over and Zero are a gather's split (by address) and zero function.
	Over, Zero string
	// When is the label of the route's path the node is.
	When string
}

type edgeView struct {
	Queue, Message                     string
	Retry                              time.Duration
	MaxAttempts, Prefetch, Concurrency int
}

func view(g *config.Graph) graphView {
	v := graphView{Name: g.Name, Handlers: g.Handlers, OnFailure: g.OnFailure, Broker: g.Broker, Files: g.Files}
	v.Broker.DeclRange = hcl.Range{}
	for _, n := range g.Nodes {
		nv := nodeView{Addr: n.Addr(), Handler: n.Handler, Interval: n.Interval, Timeout: n.Timeout, Zero: n.Zero, When: n.When}
		if n.Over != nil {
			nv.Over = n.Over.Addr()
		}
		for _, f := range n.From {
			nv.From = append(nv.From, f.Addr())
		}
		for _, t := range n.To {
			nv.To = append(nv.To, t.Addr())
		}
		if e := n.Edge; e != nil {
			nv.Edge = &edgeView{e.Queue, e.Message, e.Retry, e.MaxAttempts, e.Prefetch, e.Concurrency}
		}
		v.Nodes = append(v.Nodes, nv)
	}
	return v
}

// edge returns an edgeView with the defaults, changed by opts.
func edge(queue, message string, opts ...func(*edgeView)) *edgeView {
	e := &edgeView{queue, message, config.DefaultRetry, config.DefaultMaxAttempts, config.DefaultPrefetch, config.DefaultConcurrency}
	for _, o := range opts {
		o(e)
	}
	return e
}

func defaultBroker(graph string) config.Broker {
	return config.Broker{
		Vhost:         "/",
		QueueType:     config.DefaultQueueType,
		WorkExchange:  graph + ".work",
		RetryExchange: graph + ".retry",
		PollExchange:  graph + ".poll",
	}
}

// load loads path and fails the test on any error diagnostic; it returns
// the warnings' summaries.
func load(t *testing.T, path string, opts config.Options) (*config.Graph, []string) {
	t.Helper()
	l := config.NewLoader()
	g, diags := l.Load(path, opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", renderDiags(l, diags))
	}
	if g == nil {
		t.Fatal("no graph and no errors")
	}
	var warnings []string
	for _, d := range diags {
		warnings = append(warnings, d.Summary)
	}
	return g, warnings
}

func TestLoadGraphs(t *testing.T) {
	tests := []struct {
		name string
		path string
		opts config.Options
		want graphView
	}{
		{
			name: "reference graph",
			path: "../testdata/graphs/arith",
			want: graphView{
				Name:      "arith",
				Handlers:  "github.com/dgehq/dge/examples/arith/behaviour",
				OnFailure: "AcceptFailure",
				Broker:    defaultBroker("arith"),
				Files:     []string{"../testdata/graphs/arith/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.start", To: []string{"fan_out.duplicate_input"}},
					{Addr: "fan_out.duplicate_input", From: []string{"start.start"}, To: []string{"process.double", "process.square"},
						Edge: edge("input", "Integer", func(e *edgeView) { e.Retry = 10 * time.Second })},
					{Addr: "process.double", From: []string{"fan_out.duplicate_input"}, To: []string{"aggregate.multiply"},
						Handler: "Double", Edge: edge("input_copy_1", "Integer")},
					{Addr: "process.square", From: []string{"fan_out.duplicate_input"}, To: []string{"aggregate.multiply"},
						Handler: "Square", Edge: edge("input_copy_2", "Integer")},
					{Addr: "aggregate.multiply", From: []string{"process.double", "process.square"}, To: []string{"poll.rest_call"},
						Handler: "Multiply", Edge: edge("multiply", "Integer"), Timeout: config.DefaultAggregateTimeout},
					{Addr: "poll.rest_call", From: []string{"aggregate.multiply"}, To: []string{"terminate.result"},
						Handler: "RestCall", Edge: edge("rest_call", "Float"), Interval: time.Second, Timeout: 10 * time.Minute},
					{Addr: "terminate.result", From: []string{"poll.rest_call"}, Edge: edge("result", "Integer")},
				},
			},
		},
		{
			name: "reference graph, one file given",
			path: "../testdata/graphs/arith/graph.dge.hcl",
			opts: config.Options{Env: []string{"DGE_VAR_vhost=/arith"}},
			want: func() graphView {
				v := graphView{Name: "arith", Broker: defaultBroker("arith"), Files: []string{"../testdata/graphs/arith/graph.dge.hcl"}}
				v.Broker.Vhost = "/arith"
				return v
			}(),
		},
		{
			name: "several files in one folder",
			path: "../testdata/graphs/multifile",
			want: graphView{
				Name:     "orders",
				Handlers: "example.com/shop/orders",
				Broker: config.Broker{
					Vhost:         "/shop",
					QueueType:     config.QueueClassic,
					WorkExchange:  "shop.orders",
					RetryExchange: "shop.orders.retry",
					PollExchange:  "orders.poll",
					Adopt:         []string{"legacy_orders"},
				},
				Files: []string{
					"../testdata/graphs/multifile/graph.dge.hcl",
					"../testdata/graphs/multifile/ingest.dge.hcl",
					"../testdata/graphs/multifile/ship.dge.hcl",
				},
				Nodes: []nodeView{
					{Addr: "start.order", To: []string{"process.validate"}},
					{Addr: "process.validate", From: []string{"start.order"}, To: []string{"poll.ship"}, Handler: "Validate",
						Edge: edge("legacy_orders", "Order", func(e *edgeView) { e.MaxAttempts, e.Prefetch, e.Concurrency = 3, 100, 8 })},
					{Addr: "poll.ship", From: []string{"process.validate"}, To: []string{"terminate.shipped"}, Handler: "Ship",
						Edge: edge("orders.ship", "ValidOrder"), Interval: 30 * time.Second, Timeout: config.DefaultPollTimeout},
					{Addr: "terminate.shipped", From: []string{"poll.ship"},
						Edge: edge("orders.shipped", "Shipment", func(e *edgeView) { e.Retry = time.Minute })},
				},
			},
		},
		{
			name: "locals, functions and env",
			path: "../testdata/graphs/locals",
			opts: config.Options{Env: []string{"DGE_ENVIRONMENT=Prod", "DGE_AMQP_URL=amqp://broker:5672/", "DGE_VAR_min_retry_seconds=30"}},
			want: graphView{
				Name:     "locals",
				Handlers: "example.com/locals/behaviour",
				Broker: func() config.Broker {
					b := defaultBroker("locals")
					b.AMQPURL = "amqp://broker:5672/"
					return b
				}(),
				Files: []string{"../testdata/graphs/locals/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"process.work"}},
					{Addr: "process.work", From: []string{"start.in"}, To: []string{"terminate.out"}, Handler: "Work",
						Edge: edge("prod_Core.in", "Job", func(e *edgeView) { e.Retry = 30 * time.Second })},
					{Addr: "terminate.out", From: []string{"process.work"}, Edge: edge("PROD_CORE.OUT", "Result")},
				},
			},
		},
		{
			name: "locals, env unset: defaults",
			path: "../testdata/graphs/locals",
			want: graphView{
				Name:     "locals",
				Handlers: "example.com/locals/behaviour",
				Broker:   defaultBroker("locals"),
				Files:    []string{"../testdata/graphs/locals/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"process.work"}},
					{Addr: "process.work", From: []string{"start.in"}, To: []string{"terminate.out"}, Handler: "Work",
						Edge: edge("dev_Core.in", "Job", func(e *edgeView) { e.Retry = 3 * time.Second })},
					{Addr: "terminate.out", From: []string{"process.work"}, Edge: edge("DEV_CORE.OUT", "Result")},
				},
			},
		},
		{
			name: "topological order",
			path: "../testdata/graphs/topo",
			want: graphView{
				Name:     "topo",
				Handlers: "example.com/topo/behaviour",
				Broker:   defaultBroker("topo"),
				Files:    []string{"../testdata/graphs/topo/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.x_in", To: []string{"fan_out.y_split"}},
					{Addr: "fan_out.y_split", From: []string{"start.x_in"}, To: []string{"process.c_left", "process.z_right"}, Edge: edge("y_split", "Num")},
					{Addr: "process.c_left", From: []string{"fan_out.y_split"}, To: []string{"aggregate.b_join"}, Handler: "Left", Edge: edge("c_left", "Num")},
					{Addr: "process.z_right", From: []string{"fan_out.y_split"}, To: []string{"aggregate.b_join"}, Handler: "Right", Edge: edge("z_right", "Num")},
					{Addr: "aggregate.b_join", From: []string{"process.z_right", "process.c_left"}, To: []string{"terminate.a_end"},
						Handler: "Join", Edge: edge("b_join", "Num"), Timeout: 30 * time.Second},
					{Addr: "terminate.a_end", From: []string{"aggregate.b_join"}, Edge: edge("a_end", "Sum")},
				},
			},
		},
		{
			name: "split and gather",
			path: "../testdata/graphs/split",
			want: graphView{
				Name:     "fib",
				Handlers: "example.com/fib/behaviour",
				Broker:   defaultBroker("fib"),
				Files:    []string{"../testdata/graphs/split/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"split.numbers"}},
					{Addr: "split.numbers", From: []string{"start.in"}, To: []string{"process.fib"}, Handler: "Numbers", Edge: edge("numbers", "Range")},
					{Addr: "process.fib", From: []string{"split.numbers"}, To: []string{"gather.sum"}, Handler: "FibAt", Edge: edge("fib", "Number")},
					{Addr: "gather.sum", From: []string{"process.fib"}, To: []string{"terminate.total"}, Handler: "Sum", Edge: edge("sum", "Number"),
						Over: "split.numbers", Zero: "NewTotal", Timeout: 30 * time.Minute},
					{Addr: "terminate.total", From: []string{"gather.sum"}, Edge: edge("total", "Total")},
				},
			},
		},
		{
			name: "route and merge",
			path: "../testdata/graphs/route",
			want: graphView{
				Name:     "route",
				Handlers: "example.com/route/behaviour",
				Broker:   defaultBroker("route"),
				Files:    []string{"../testdata/graphs/route/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"route.by_kind"}},
					{Addr: "route.by_kind", From: []string{"start.in"}, To: []string{"process.invoice", "process.other"}, Handler: "Kind", Edge: edge("docs", "Document")},
					{Addr: "process.invoice", From: []string{"route.by_kind"}, To: []string{"process.archive"}, Handler: "Invoice", Edge: edge("invoices", "Document"), When: "invoice"},
					{Addr: "process.other", From: []string{"route.by_kind"}, To: []string{"process.archive"}, Handler: "Other", Edge: edge("others", "Document"), When: config.WhenDefault},
					{Addr: "process.archive", From: []string{"process.invoice", "process.other"}, To: []string{"terminate.out"}, Handler: "Archive", Edge: edge("archive", "Filed")},
					{Addr: "terminate.out", From: []string{"process.archive"}, Edge: edge("out", "Receipt")},
				},
			},
		},
		{
			name: "route inside a split",
			path: "../testdata/graphs/route_split",
			want: graphView{
				Name:     "pages",
				Handlers: "example.com/pages/behaviour",
				Broker:   defaultBroker("pages"),
				Files:    []string{"../testdata/graphs/route_split/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"split.pages"}},
					{Addr: "split.pages", From: []string{"start.in"}, To: []string{"route.by_kind"}, Handler: "Pages", Edge: edge("pages", "Doc")},
					{Addr: "route.by_kind", From: []string{"split.pages"}, To: []string{"process.image", "process.text"}, Handler: "Kind", Edge: edge("by_kind", "Page")},
					{Addr: "process.image", From: []string{"route.by_kind"}, To: []string{"process.index"}, Handler: "Image", Edge: edge("image", "Page"), When: config.WhenDefault},
					{Addr: "process.text", From: []string{"route.by_kind"}, To: []string{"process.index"}, Handler: "Text", Edge: edge("text", "Page"), When: "text"},
					{Addr: "process.index", From: []string{"process.text", "process.image"}, To: []string{"gather.collect"}, Handler: "Index", Edge: edge("index", "Indexed")},
					{Addr: "gather.collect", From: []string{"process.index"}, To: []string{"terminate.out"}, Handler: "Collect", Edge: edge("collect", "Indexed"),
						Over: "split.pages", Timeout: config.DefaultGatherTimeout},
					{Addr: "terminate.out", From: []string{"gather.collect"}, Edge: edge("out", "Book")},
				},
			},
		},
		{
			name: "route with no default",
			path: "../testdata/graphs/route_no_default",
			want: graphView{
				Name:     "orders",
				Handlers: "example.com/orders/behaviour",
				Broker:   defaultBroker("orders"),
				Files:    []string{"../testdata/graphs/route_no_default/graph.dge.hcl"},
				Nodes: []nodeView{
					{Addr: "start.in", To: []string{"fan_out.order"}},
					{Addr: "fan_out.order", From: []string{"start.in"}, To: []string{"process.audit", "route.by_size"}, Edge: edge("order", "Order")},
					{Addr: "process.audit", From: []string{"fan_out.order"}, To: []string{"aggregate.done"}, Handler: "Audit", Edge: edge("audit", "Order")},
					{Addr: "route.by_size", From: []string{"fan_out.order"}, To: []string{"poll.review", "process.small"}, Handler: "Size", Edge: edge("by_size", "Order")},
					{Addr: "poll.review", From: []string{"route.by_size"}, To: []string{"process.ship"}, Handler: "Review", Edge: edge("review", "Order"), When: "large",
						Interval: time.Minute, Timeout: config.DefaultPollTimeout},
					{Addr: "process.small", From: []string{"route.by_size"}, To: []string{"process.ship"}, Handler: "Small", Edge: edge("small", "Order"), When: "small"},
					{Addr: "process.ship", From: []string{"process.small", "poll.review"}, To: []string{"aggregate.done"}, Handler: "Ship", Edge: edge("ship", "Order")},
					{Addr: "aggregate.done", From: []string{"process.ship", "process.audit"}, To: []string{"terminate.out"}, Handler: "Done", Edge: edge("done", "Step"),
						Timeout: config.DefaultAggregateTimeout},
					{Addr: "terminate.out", From: []string{"aggregate.done"}, Edge: edge("out", "Receipt")},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, warnings := load(t, tt.path, tt.opts)
			if len(warnings) > 0 {
				t.Errorf("unexpected warnings: %q", warnings)
			}
			got := view(g)
			want := tt.want
			if want.Nodes == nil { // only the header is of interest
				got = graphView{Name: got.Name, Broker: got.Broker, Files: got.Files}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("graph mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGraphLinks checks what view leaves out: the pointers between nodes
// and the source ranges.
func TestGraphLinks(t *testing.T) {
	g, _ := load(t, "../testdata/graphs/arith", config.Options{})
	mul := g.Node("aggregate.multiply")
	if mul == nil {
		t.Fatal("no aggregate.multiply")
	}
	if mul.From[0] != g.Node("process.double") || mul.From[1] != g.Node("process.square") {
		t.Errorf("From does not point at the graph's own nodes")
	}
	if mul.Output() != "Float" || g.Node("terminate.result").Output() != "" || g.Node("start.start").Output() != "Integer" {
		t.Errorf("Output: got %q, %q, %q", mul.Output(), g.Node("terminate.result").Output(), g.Node("start.start").Output())
	}
	if !g.HasPoll() {
		t.Error("HasPoll = false")
	}
	file := "../testdata/graphs/arith/graph.dge.hcl"
	ranges := []struct {
		name string
		got  hcl.Range
		line int
		text string
	}{
		{"graph decl", g.DeclRange, 3, `graph "arith"`},
		{"handlers", g.HandlersRange, 4, `"github.com/dgehq/dge/examples/arith/behaviour"`},
		{"on_failure", g.OnFailureRange, 5, `"AcceptFailure"`},
		{"broker", g.Broker.DeclRange, 8, `broker`},
		{"node decl", mul.DeclRange, 40, `aggregate "multiply"`},
		{"handler", mul.HandlerRange, 44, `"Multiply"`},
		{"from[0]", mul.FromRanges[0], 41, `process.double`},
		{"from[1]", mul.FromRanges[1], 41, `process.square`},
		{"queue", mul.Edge.QueueRange, 42, `"multiply"`},
		{"message", mul.Edge.MessageRange, 43, `"Integer"`},
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if r.got.Filename != file || r.got.Start.Line != r.line || string(r.got.SliceBytes(src)) != r.text {
			t.Errorf("%s range = %s %q, want line %d %q", r.name, r.got, r.got.SliceBytes(src), r.line, r.text)
		}
	}
}

func TestVariables(t *testing.T) {
	varFile := "../testdata/graphs/vars/prod.vars.hcl"
	tests := []struct {
		name     string
		opts     config.Options
		queue    string // process.work's queue
		vhost    string
		attempts int
		prefetch int
		conc     int
		warnings []string
		errors   []string // summaries of the expected errors
	}{
		{
			name:  "defaults, required value from the environment",
			opts:  config.Options{Env: []string{"DGE_VAR_vhost=/env"}},
			queue: "dev_work", vhost: "/env", attempts: 5, prefetch: 10, conc: 2,
		},
		{
			name:  "environment below -var",
			opts:  config.Options{Env: []string{"DGE_VAR_vhost=/env", "DGE_VAR_prefix=env_"}, VarArgs: []config.VarArg{{Raw: "prefix=cli_"}}},
			queue: "cli_work", vhost: "/env", attempts: 5, prefetch: 10, conc: 2,
		},
		{
			name:  "environment below -var-file, which warns about undeclared names",
			opts:  config.Options{Env: []string{"DGE_VAR_vhost=/env", "DGE_VAR_prefix=env_"}, VarArgs: []config.VarArg{{File: varFile}}},
			queue: "prod_work", vhost: "/prod", attempts: 5, prefetch: 64, conc: 16,
			warnings: []string{"Value for undeclared variable"},
		},
		{
			name:  "command-line order: the later -var wins",
			opts:  config.Options{VarArgs: []config.VarArg{{Raw: "prefix=cli_"}, {File: varFile}, {Raw: "prefix=last_"}}},
			queue: "last_work", vhost: "/prod", attempts: 5, prefetch: 64, conc: 16,
			warnings: []string{"Value for undeclared variable"},
		},
		{
			name:  "command-line order: the later -var-file wins",
			opts:  config.Options{VarArgs: []config.VarArg{{Raw: "prefix=cli_"}, {File: varFile}}},
			queue: "prod_work", vhost: "/prod", attempts: 5, prefetch: 64, conc: 16,
			warnings: []string{"Value for undeclared variable"},
		},
		{
			name:  "JSON -var-file",
			opts:  config.Options{VarArgs: []config.VarArg{{File: "../testdata/graphs/vars/prod.vars.json"}}},
			queue: "json_work", vhost: "/json", attempts: 5, prefetch: 7, conc: 2,
		},
		{
			name:   "a string -var is raw; others are HCL",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: `vhost="/quoted"`}, {Raw: "attempts=7"}, {Raw: "tuning={prefetch = 3}"}, {Raw: "prefix=a=b"}}},
			queue:  "", // "a=b" is not a valid queue name: checked below
			errors: []string{"Invalid queue name", "Invalid queue name"},
		},
		{
			name:  "HCL values from the environment",
			opts:  config.Options{Env: []string{"DGE_VAR_vhost=/v", "DGE_VAR_attempts=9", "DGE_VAR_unknown=ignored"}},
			queue: "dev_work", vhost: "/v", attempts: 9, prefetch: 10, conc: 2,
		},
		{
			name:   "missing required variable",
			errors: []string{"No value for required variable"},
		},
		{
			name:   "-var for an undeclared variable",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "prefx=x"}}},
			errors: []string{"Value for undeclared variable"},
		},
		{
			name:   "-var without =",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "prefix"}}},
			errors: []string{"Invalid -var option"},
		},
		{
			name:   "-var that names no value",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "attempts=many"}}},
			errors: []string{"Variables not allowed"},
		},
		{
			name:   "-var that is not an HCL expression",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "tuning={"}}},
			errors: []string{"Missing expression"},
		},
		{
			name:   "missing -var-file",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {File: "../testdata/graphs/vars/missing.hcl"}}},
			errors: []string{"Cannot read variables file"},
		},
		{
			name:   "-var of the wrong type",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "attempts=[1]"}}},
			errors: []string{"Invalid value for variable"},
		},
		{
			name:   "object missing a required attribute",
			opts:   config.Options{VarArgs: []config.VarArg{{Raw: "vhost=/"}, {Raw: "tuning={concurrency = 3}"}}},
			errors: []string{"Invalid value for variable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := config.NewLoader()
			g, diags := l.Load("../testdata/graphs/vars", tt.opts)
			var gotErrors, gotWarnings []string
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					gotErrors = append(gotErrors, d.Summary)
				} else {
					gotWarnings = append(gotWarnings, d.Summary)
				}
			}
			if diff := cmp.Diff(tt.errors, gotErrors); diff != "" {
				t.Fatalf("errors mismatch (-want +got):\n%s\n%s", diff, renderDiags(l, diags))
			}
			if diff := cmp.Diff(tt.warnings, gotWarnings); diff != "" {
				t.Errorf("warnings mismatch (-want +got):\n%s", diff)
			}
			if tt.errors != nil {
				if g != nil {
					t.Error("got a graph despite errors")
				}
				return
			}
			w := g.Node("process.work").Edge
			got := []any{w.Queue, g.Broker.Vhost, w.MaxAttempts, w.Prefetch, w.Concurrency}
			want := []any{tt.queue, tt.vhost, tt.attempts, tt.prefetch, tt.conc}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("values mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRawStringVar checks that a string variable's -var value is used
// verbatim, quotes and all, where an HCL value would lose them.
func TestRawStringVar(t *testing.T) {
	g, _ := load(t, "../testdata/graphs/vars", config.Options{VarArgs: []config.VarArg{{Raw: `vhost="/quoted" x`}, {Raw: "attempts=7"}, {Raw: "tuning={prefetch = 3}"}}})
	w := g.Node("process.work").Edge
	if g.Broker.Vhost != `"/quoted" x` || w.MaxAttempts != 7 || w.Prefetch != 3 || w.Concurrency != 2 {
		t.Errorf("got vhost %q, attempts %d, prefetch %d, concurrency %d", g.Broker.Vhost, w.MaxAttempts, w.Prefetch, w.Concurrency)
	}
}

// TestSensitive checks that no diagnostic shows a sensitive value.
func TestSensitive(t *testing.T) {
	const secret = "amq.s3cr3t"
	src := `
graph "g" {
  handlers = "example.com/g"
}
variable "token" {
  type      = string
  sensitive = true
}
variable "n" {
  type      = number
  sensitive = true
}
start "in" {}
process "work" {
  from     = start.in
  queue    = "${var.token}-q"
  message  = "Job"
  handler  = "Work"
  prefetch = var.n
}
terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
`
	l := config.NewLoader()
	_, diags := l.LoadSource("secret.dge.hcl", []byte(src), config.Options{
		Env: []string{"DGE_VAR_token=" + secret, "DGE_VAR_n=1234567"},
	})
	text := renderDiags(l, diags)
	var summaries []string
	for _, d := range diags {
		summaries = append(summaries, d.Summary)
	}
	if diff := cmp.Diff([]string{"Invalid queue name", "Number out of range"}, summaries); diff != "" {
		t.Fatalf("diagnostics mismatch (-want +got):\n%s\n%s", diff, text)
	}
	for _, s := range []string{secret, "1234567"} {
		if strings.Contains(text, s) {
			t.Errorf("diagnostics show the sensitive value %q:\n%s", s, text)
		}
	}
	if !strings.Contains(text, "(sensitive value)") {
		t.Errorf("diagnostics do not say the value is sensitive:\n%s", text)
	}
}

func TestLoadPaths(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "graph.hcl"), []byte("graph \"x\" {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, summary string
	}{
		{"missing path", filepath.Join(empty, "nope"), "Cannot read graph"},
		{"folder without graph files", empty, "No graph files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, diags := config.NewLoader().Load(tt.path, config.Options{})
			if g != nil || len(diags) != 1 || diags[0].Summary != tt.summary || diags[0].Severity != hcl.DiagError {
				t.Fatalf("got graph %v, diagnostics %v; want one error %q", g, diags, tt.summary)
			}
			if !strings.Contains(diags[0].Detail, config.FileSuffix) {
				t.Errorf("detail does not say which files are read: %q", diags[0].Detail)
			}
		})
	}
}

// TestLoadSourceReplaces checks that loading a source under a name already
// loaded replaces the file the Loader reports.
func TestLoadSourceReplaces(t *testing.T) {
	src, err := os.ReadFile("../testdata/graphs/arith/graph.dge.hcl")
	if err != nil {
		t.Fatal(err)
	}
	l := config.NewLoader()
	if _, diags := l.LoadSource("g.dge.hcl", src, config.Options{}); diags.HasErrors() {
		t.Fatal(diags)
	}
	changed := []byte(strings.Replace(string(src), `graph "arith"`, `graph "other"`, 1))
	g, diags := l.LoadSource("g.dge.hcl", changed, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if g.Name != "other" || string(l.Files()["g.dge.hcl"].Bytes) != string(changed) {
		t.Errorf("second LoadSource used stale source: graph %q", g.Name)
	}
}

// TestTypedParts: an aggregate's message list gives each from entry its own
// type, which is what each input emits and what each edge carries.
func TestTypedParts(t *testing.T) {
	g, diags := config.NewLoader().Load("../examples/orders", config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	confirm := g.Node("aggregate.confirm")
	if got := confirm.Edge.Parts; !cmp.Equal(got, []string{"Reservation", "Payment"}) || !confirm.Edge.Typed() {
		t.Errorf("parts %v, want [Reservation Payment]", got)
	}
	if confirm.Edge.Message != "Reservation, Payment" {
		t.Errorf("message %q, want the list for display", confirm.Edge.Message)
	}
	reserve, charge := g.Node("process.reserve"), g.Node("process.charge")
	if reserve.Output() != "Reservation" || charge.Output() != "Payment" {
		t.Errorf("outputs %q and %q, want Reservation and Payment", reserve.Output(), charge.Output())
	}
	if confirm.InputFrom(charge) != "Payment" || confirm.Edge.PartMessage(0) != "Reservation" || confirm.Edge.PartMessage(2) != "" {
		t.Errorf("InputFrom/PartMessage disagree with the list")
	}
	if r := confirm.Edge.PartRange(1); r.Start.Line != r.End.Line || r.Start.Column >= r.End.Column || r.Start.Line != confirm.Edge.MessageRange.Start.Line {
		t.Errorf("part range %v, want the second element of the message list", r)
	}
	if g.Node("process.ship").Edge.Typed() {
		t.Errorf("a single message type is not typed parts")
	}
}
