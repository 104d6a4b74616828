package main

import (
	"context"

	"github.com/dgehq/dge/plan"
)

func runDestroy(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("destroy", "dge destroy [flags] [PATH]", `
Remove from the broker everything the graph in PATH owns (default: the
current folder): its stamped queues and exchanges, the unstamped ones it
adopts, their bindings, and its dge.<graph>.* policies. Foreign objects are
left alone. Shows the plan and asks for "yes" on a terminal.

Queues that hold messages or have consumers are not deleted unless
-allow-message-loss is given. Progress and -json (which needs
-auto-approve) are as for dge apply. Environment: as for dge apply.`)
	c := e.addChangeFlags(fs, "delete queues even when they hold messages or have consumers")
	path, code, done := e.parseChange(fs, c, args)
	if done {
		return code
	}
	if e.json && !c.autoApprove {
		return e.failf("destroy", "destroy -json needs -auto-approve\nWith -json there is no prompt to answer. Review what would go (dge plan -destroy), then run dge destroy -json -auto-approve.")
	}
	g, ok := e.loadGraph(path, c.vars)
	if !ok {
		return exitError
	}
	return e.planAndExecute(ctx, "destroy", g, plan.NewDestroy, c.autoApprove, false, c.options())
}
