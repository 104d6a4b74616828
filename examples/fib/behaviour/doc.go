// Package behaviour is the handlers package of the fib example graph
// (examples/fib/graph.dge.hcl), the seed's example of data parallelism: a
// Range is split into its numbers (Numbers), each number is mapped to its
// Fibonacci number (FibAt) by whichever instance takes it, and a fold
// (Sum, starting from NewTotal) adds them up. The numbers 1..10 give 143.
//
// Fibonacci numbers outgrow int64 past the 92nd, so values are
// math/big integers, written in JSON as plain numbers of any length.
//
// For fault tests, FibAt refuses the number named by the environment
// variable DGE_FIB_REFUSE (read at each call) with a permanent error, so a
// test can make one item of a split fail, then restart the instances
// without it and redrive the parked item.
package behaviour
