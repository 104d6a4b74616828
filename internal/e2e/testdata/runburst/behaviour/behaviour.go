// Package behaviour is the handlers package of dge run's acceptance graph
// (internal/e2e/testdata/runburst): Work takes 20 ms per job, as a call to
// another system would, so that more replicas finish a burst sooner.
package behaviour

import (
	"context"
	"time"
)

// Job is the graph's input.
type Job struct {
	ID int `json:"id"`
}

// Result is the graph's output: the job's ID, doubled.
type Result struct {
	ID      int `json:"id"`
	Doubled int `json:"doubled"`
}

// WorkTime is how long Work takes per job.
const WorkTime = 20 * time.Millisecond

// Work waits WorkTime, then returns the job's result.
func Work(ctx context.Context, j Job) (Result, error) {
	t := time.NewTimer(WorkTime)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	return Result{ID: j.ID, Doubled: 2 * j.ID}, nil
}
