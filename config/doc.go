// Package config loads dge graphs from *.dge.hcl files into a validated
// model, Graph, reporting every problem as an hcl.Diagnostic with a source
// range. It does no network I/O.
//
// A graph is every *.dge.hcl file of one folder (or one file). Its blocks
// are `graph` (exactly one), `broker` (at most one), `variable`, `locals`,
// `moved` (a renamed queue, Graph.Moved) and the node blocks `start`,
// `process`, `fan_out`, `aggregate`, `poll`, `route`, `split`, `gather` and
// `terminate`. A route's handler returns a label; each node whose from is
// the route is one of its paths and names its label with `when`
// (Node.When; "*", WhenDefault, for the default path). A process or
// terminate whose from is a list merges the paths of those nodes
// (Node.From holds them all). A split's handler returns a list whose elements leave as
// items; a gather names the split it closes (`over = split.pages`, read as a
// reference like from, Node.Over) and may name a zero function (`zero`,
// Node.Zero) and a timeout (Node.Timeout, default DefaultGatherTimeout).
// docs/design.md ("The language") gives the language's
// rules and why; the README's "The language" lists every attribute.
//
// Loading follows hcl's own guide: the files are decoded against explicit
// schemas first, leaving expressions unevaluated with their ranges; the
// references of each local value are read from its syntax and the locals are
// evaluated in dependency order (a cycle is reported with its path); then
// every node attribute is evaluated with var.*, local.* and a curated set of
// functions (cty's stdlib plus env), while each node's `from` is read as a
// reference, never evaluated. Finally the nodes are linked and the whole
// graph is validated, collecting every problem in one run.
//
// A split opens a region that its gather closes. Validation gives every
// node the stack of splits open on its input path (a split pushes itself
// for its successors, a gather pops the split it closes) and requires, in
// split.go: that a gather's over is the innermost open split on its path;
// that every path out of a split reaches its gather (a terminate, or a
// node that feeds nothing, with a split open is an error naming the split
// and the path); that a split has exactly one gather; and that an
// aggregate's inputs all have the same stack, and an empty one, since a join
// inside a split would mix the items of one run. Splits nest to any depth.
// A merge's inputs must have equal stacks too (a merge inside a split is
// fine), and a route inside a split is fine as long as its paths merge
// before the gather.
//
// Routes and merges follow their own rules, in route.go. A node fed by a
// route is one of its paths: a process, fan_out, poll, split or terminate
// (an aggregate or a gather there would wait for the paths a run did not
// take), with a non-empty when and the route as its only input; when on
// any other node is an error. A route has at least one path, distinct
// labels and at most one default; its paths take its message type, as a
// fan_out's consumers do. A merge lists two or more nodes, each once, that
// emit its message type. Validation gives every node a condition, the
// route choices that lead to it: a set of alternatives, each the label
// some routes took. A start's is the one empty alternative (every run); a
// path of route R adds R's label to each alternative of R's; a merge takes
// the alternatives of all its inputs (alternatives that differ only in
// taking every path of one route become one without it, so merging every
// path of a route undoes its choice); a gather has its split's, as the
// routes inside a split choose per item. An aggregate two of whose inputs
// have different conditions, compared by trying every choice of the routes
// they name, is an error: inputs no run reaches together would leave it
// waiting forever, and inputs some run reaches one of would leave it
// waiting until its timeout; the detail names such a run. Cycles through a
// merge are cycles like any other.
//
// Every node but start may hold one `deploy` block saying how it runs
// (deploy.go, Node.Deploy): min_replicas and max_replicas bound its
// replicas, ready_per_replica is the number of ready messages in its queue
// each replica takes (the scaler aims at ceil(ready / ready_per_replica)
// replicas), cpu and memory are the Kubernetes quantities a replica
// requests, shutdown_grace is how long a replica may finish its work after
// SIGTERM and cooldown how long the queue stays below the target before a
// replica is removed. Every attribute is optional (DefaultDeploy: one
// replica, never scaled); a node without the block runs on the defaults,
// and a start has none (Node.Deploy is zero). The counts are whole
// numbers from 1: min_replicas 0 is refused, since scaling to zero would
// need KEDA's activation, which dge does not set up. max_replicas must be
// at least min_replicas; cpu and memory must parse as positive Kubernetes
// quantities (resource.ParseQuantity; cpu in whole millicores, memory in
// whole bytes); the durations are positive whole seconds, and cooldown at
// most an hour, the longest the HorizontalPodAutoscaler holds a
// scale-down.
//
// Whether a gather's handler takes the whole list or folds item by item is
// read from its Go signature by the generator; config checks zero only as
// a name.
//
// Variable values come, in rising precedence, from a variable's default, the
// environment variable DGE_VAR_<name>, and the -var and -var-file arguments
// in command-line order, as in Terraform. Values of variables declared
// `sensitive` are never shown in a diagnostic.
//
// Every value is bounded: 1 MiB of text and 100,000 elements, counted
// through nested collections (limit.go). Evaluation measures each
// subexpression's value as it is produced, and what the expressions still
// being built hold at once, and refuses a function call whose result would
// be too large before it runs, so that no expression, however hostile, can
// exhaust memory; it is reported as "Value too large" at its range. Before
// a file or value is parsed, its tokens are counted for nesting: hcl parses
// and evaluates by recursion, so past 100 levels (nesting.go) it is
// reported as "Nesting too deep" and not parsed. LoadContext stops at the
// cancellation of its context, within any evaluation (interrupt.go).
//
// Typical use, in a command:
//
//	l := config.NewLoader()
//	g, diags := l.Load(path, config.Options{VarArgs: vars, Env: os.Environ()})
//	wr := hcl.NewDiagnosticTextWriter(os.Stderr, l.Files(), 78, true)
//	wr.WriteDiagnostics(diags)
//	if g == nil {
//		return 1 // diags holds at least one error
//	}
package config
