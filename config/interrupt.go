package config

import (
	"context"

	"github.com/hashicorp/hcl/v2"
)

// interruptEvery is how many subexpressions an evaluation evaluates
// between two looks at whether loading was interrupted: often enough to
// stop within milliseconds, rarely enough to cost nothing.
const interruptEvery = 64

// interrupted returns the error that ends a load interrupted, when ctx was
// cancelled, while it read rng (nil when not in a source).
func interrupted(ctx context.Context, rng *hcl.Range) *hcl.Diagnostic {
	what := "loading the graph"
	if rng != nil {
		what = "evaluating this expression"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Interrupted",
		Detail:   "dge was stopped (" + context.Cause(ctx).Error() + ") while " + what + ", so the graph was not fully checked. Run the command again to check it; if an expression takes long to evaluate, make it simpler.",
		Subject:  rng,
	}
}

// stop records that loading was interrupted while evaluating rng, if it
// was: from then on nothing more is evaluated, and load returns this one
// error with those found so far.
func (s *state) stop(rng *hcl.Range) bool {
	if s.stopped != nil {
		return true
	}
	if s.interrupt == nil || s.interrupt.Err() == nil {
		return false
	}
	s.stopped = interrupted(s.interrupt, rng)
	return true
}

// interrupted tells whether the evaluation under way was interrupted,
// looking at the context only every interruptEvery calls; once it has,
// the evaluation stops, as for a value over the limits.
func (b *budget) interrupted(rng hcl.Range) bool {
	if b.stopped != nil {
		return true
	}
	if b.steps++; b.steps%interruptEvery != 0 || b.interrupt == nil || b.interrupt.Err() == nil {
		return false
	}
	b.stopped = interrupted(b.interrupt, &rng)
	return true
}
