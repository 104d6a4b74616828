// Package behaviour is the handlers package of the arith example graph
// (examples/arith/graph.dge.hcl): its message types and the functions its
// nodes call. For an input x the graph computes (2x)·(x²) = 2x³, then waits
// until a simulated external system reports the value ready.
//
// Handlers are plain functions; the generated program binds them to nodes,
// and the dge runtime does the messaging, retries and joins around them.
package behaviour
