package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dgehq/dge/plan"
)

func runShow(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("show", "dge show [flags] PLANFILE", `
Print a plan saved with dge plan -out exactly as dge plan printed it: as
text, or with -json as the same JSON as dge plan -json. The broker is not
contacted, so the plan shows the live state it was made against; dge apply
PLANFILE checks that state again before changing anything.

A file that is not a saved plan, or a plan of another format_version or dge
version, is refused (exit 1); run dge plan -out again. Errors go to stderr
as text, or with -json to stdout as a JSON diagnostic line.`)
	e.addJSON(fs, "print the plan as JSON (with a format_version) instead of text")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return e.failf("show", "want exactly one PLANFILE (a file written by dge plan -out), got %d arguments", len(pos))
	}
	path := pos[0]
	f, err := os.Open(path)
	if err != nil {
		return e.fail("show", fmt.Errorf("open the saved plan: %w", err))
	}
	p, err := plan.Decode(f, version)
	f.Close()
	if err != nil {
		return e.fail("show", fmt.Errorf("%s: %w", path, err))
	}
	if e.json {
		err = plan.WriteJSON(e.stdout, p)
	} else {
		err = e.renderPlan(p)
	}
	if err != nil {
		return e.fail("show", err)
	}
	return exitOK
}
