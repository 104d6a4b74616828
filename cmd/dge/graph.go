package main

import (
	"context"
	"fmt"

	"github.com/dgehq/dge/internal/diagram"
	"github.com/dgehq/dge/internal/status"
)

func runGraph(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("graph", "dge graph [flags] [PATH]", `
Print the graph in PATH (default the current folder) as a Graphviz digraph,
a Mermaid flowchart or JSON (-format json, for scripts): one node per
block, labelled "kind name", one arrow per message flow, labelled with
its queue and message type ("(items)" on an arrow leaving a split; "when
LABEL", or "otherwise" for the default path, on an arrow leaving a route),
and a dashed arrow "gathers" from each split to the gather that closes it.
A route is drawn as a diamond; a merge is several arrows into one node.
For a picture:

  dge graph examples/arith | dot -Tsvg > arith.svg

With -status, graph reads the live counts as dge status does (one
management API request, statistics that lag up to 5 s) and draws them:
each edge labelled with its ready, retrying and parked messages (red when
something is parked), each node without a consumer dashed, red and
labelled "no consumer".`)
	var vars varFlags
	vars.register(fs)
	format := fs.String("format", "dot", "output format: dot, mermaid or json (nodes and edges, with a format_version)")
	withStatus := fs.Bool("status", false, "annotate the graph with the live counts of the broker (as dge status reads them)")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	e.json = *format == "json"
	switch *format {
	case "dot", "mermaid", "json":
	default:
		return e.failf("graph", "unknown -format %q; use -format dot, mermaid or json", *format)
	}
	g, ok := e.loadArg(fs, pos, vars)
	if !ok {
		return exitError
	}
	if *format == "json" && *withStatus {
		return e.failf("graph", "-status draws counts on a picture; drop it with -format json (dge status -json prints the counts)")
	}
	if *format == "json" {
		out, err := graphToJSON(g)
		if err != nil {
			return e.failf("graph", "encode JSON: %v", err)
		}
		if _, err := e.stdout.Write(out); err != nil {
			fmt.Fprintf(e.stderr, "dge graph: write output: %v\n", err)
			return exitError
		}
		return exitOK
	}
	var live diagram.Status
	if *withStatus {
		client, _, err := e.managementClient(g.Broker)
		if err != nil {
			return e.fail("graph", err)
		}
		r, err := status.Read(ctx, client, g)
		if err != nil {
			return e.fail("graph", err)
		}
		live = r.Diagram()
	}
	out := diagram.DotStatus(g, live)
	if *format == "mermaid" {
		out = diagram.MermaidStatus(g, live)
	}
	if _, err := e.stdout.Write(out); err != nil {
		fmt.Fprintf(e.stderr, "dge graph: write output: %v\n", err)
		return exitError
	}
	return exitOK
}
