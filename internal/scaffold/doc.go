// Package scaffold holds the files of a new dge project, as dge init writes
// them: a small graph (start → process → terminate), its handlers package
// and a test of the whole graph. The go.mod and the generated program are
// written by dge init itself, from the module it knows and internal/gen.
package scaffold
