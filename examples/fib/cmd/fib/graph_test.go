package main

import (
	"math/big"
	"testing"
	"time"

	"github.com/dgehq/dge/examples/fib/behaviour"
	"github.com/dgehq/dge/runtime/dgetest"
)

func start(t *testing.T) *dgetest.Harness {
	return dgetest.Start(t, graph, dgetest.RetryDelay(5*time.Millisecond))
}

// sumFib is the direct computation: fib(from) + … + fib(to).
func sumFib(from, to int64) *big.Int {
	s := new(big.Int)
	for n := from; n <= to; n++ {
		s.Add(s, behaviour.Fib(n))
	}
	return s
}

// TestSeedExample: the numbers 1..10, split, each mapped to its Fibonacci
// number, folded with a sum: 143. Other ranges are checked against a
// direct computation, a range of no numbers gives the fold's zero.
func TestSeedExample(t *testing.T) {
	h := start(t)
	ranges := []behaviour.Range{{From: 1, To: 10}, {From: 5, To: 4}, {From: 1, To: 1}, {From: 90, To: 200}}
	for _, r := range ranges {
		h.Publish(t, "start", r)
	}
	got := map[[2]int64]behaviour.Total{} // by first and last number
	for _, tot := range dgetest.Results[behaviour.Total](t, h, "total", len(ranges)) {
		got[[2]int64{tot.First, tot.Last}] = tot
	}
	if tot := got[[2]int64{1, 1}]; tot.Count != 1 || tot.Sum.Int64() != 1 {
		t.Errorf("1..1 gave %+v, want 1", tot)
	}
	if tot := got[[2]int64{1, 10}]; tot.Count != 10 || tot.Last != 10 || tot.Sum.Int64() != 143 {
		t.Errorf("1..10 gave %+v, want 10 numbers summing to 143", tot)
	}
	if tot := got[[2]int64{0, 0}]; tot.Count != 0 || tot.Sum == nil || tot.Sum.Sign() != 0 {
		t.Errorf("the empty range gave %+v, want the zero total", tot)
	}
	if tot := got[[2]int64{90, 200}]; tot.Count != 111 || tot.Last != 200 || tot.Sum.Cmp(sumFib(90, 200)) != 0 {
		t.Errorf("90..200 gave %+v, want 111 numbers summing to %v", tot, sumFib(90, 200))
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %+v, want none", p)
	}
}

// TestRefusedItemEndsTheRun: an item refused permanently is parked, and
// the run ends with a failure record at the terminate node.
func TestRefusedItemEndsTheRun(t *testing.T) {
	t.Setenv(behaviour.RefuseEnv, "13")
	h := start(t)
	run := h.Publish(t, "start", behaviour.Range{From: 1, To: 20})
	rec := dgetest.Failures(t, h, "total", 1)[0]
	if rec.RunID != run || rec.Failed.Node != "process.fib" || rec.Failed.Reason != "permanent" {
		t.Errorf("failure record %+v (%+v), want run %s failed at process.fib, permanent", rec, rec.Failed, run)
	}
	if p := h.WaitParked(t, "fib", 1); len(p) != 1 || p[0].RunID != run || p[0].Reason != "permanent" {
		t.Errorf("fib parked %+v, want the item n = 13 of run %s", p, run)
	}
}
