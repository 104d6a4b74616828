package main

import (
	"context"
	"fmt"

	"github.com/dgehq/dge/internal/diagram"
)

func runGraph(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("graph", "dge graph [flags] [PATH]", `
Print the graph in PATH (default the current folder) as a Graphviz digraph
or a Mermaid flowchart: one node per block, labelled "kind name", one arrow
per message flow, labelled with its queue and message type. For a picture:

  dge graph examples/arith | dot -Tsvg > arith.svg`)
	var vars varFlags
	vars.register(fs)
	format := fs.String("format", "dot", "output format: dot or mermaid")
	e.addNoColor(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	switch *format {
	case "dot", "mermaid":
	default:
		fmt.Fprintf(e.stderr, "dge graph: unknown -format %q; use -format dot or -format mermaid\n", *format)
		return exitError
	}
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return exitError
	}
	g, ok := e.loadGraph(path, vars)
	if !ok {
		return exitError
	}
	out := diagram.Dot(g)
	if *format == "mermaid" {
		out = diagram.Mermaid(g)
	}
	if _, err := e.stdout.Write(out); err != nil {
		fmt.Fprintf(e.stderr, "dge graph: write output: %v\n", err)
		return exitError
	}
	return exitOK
}
