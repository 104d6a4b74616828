package main

import (
	"context"

	"github.com/dgehq/dge/apply"
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
	var vars varFlags
	vars.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	allowLoss := fs.Bool("allow-message-loss", false, "delete queues even when they hold messages or have consumers")
	parallelism := addParallelism(fs)
	e.addJSON(fs, jsonStreamUsage)
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	e.startStream()
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return exitError
	}
	if *parallelism < 1 {
		return e.failf("destroy", "-parallelism must be at least 1, got %d", *parallelism)
	}
	if e.json && !*autoApprove {
		return e.failf("destroy", "destroy -json needs -auto-approve\nWith -json there is no prompt to answer. Review what would go (dge plan -destroy), then run dge destroy -json -auto-approve.")
	}
	g, ok := e.loadGraph(path, vars)
	if !ok {
		return exitError
	}
	return e.planAndExecute(ctx, "destroy", g, plan.NewDestroy, *autoApprove, false, apply.Options{Parallelism: *parallelism, AllowMessageLoss: *allowLoss})
}
