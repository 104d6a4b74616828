// Package dge holds the handlers of the generator's "clash" test graph; its
// name is the one generated code gives the runtime package.
package dge

import (
	"context"

	runtime "github.com/dgehq/dge/runtime"
)

// Job is a unit of work polled until done.
type Job struct {
	ID string `json:"id"`
}

// Wait reports every job done at its first check.
func Wait(ctx context.Context, in Job) (Job, bool, error) {
	return in, true, nil
}

// Report is the graph's on_failure function; it ignores parked jobs.
func Report(ctx context.Context, f runtime.Failure) {}
