// Package handlers is written in part: stubs.go is what gen.Stubs adds for
// the rest of what ../graph.dge.hcl names.
package handlers

import "context"

// Integer is written; Float is left to the stubs.
type Integer struct {
	Value int64 `json:"value"`
}

// Double is written; the other handlers are left to the stubs.
func Double(_ context.Context, in Integer) (Integer, error) {
	return Integer{Value: 2 * in.Value}, nil
}

// dge would be the stub file's name for the runtime package, so its import
// must take another.
var dge = "taken"
