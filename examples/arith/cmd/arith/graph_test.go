package main

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/examples/arith/behaviour"
	"github.com/dgehq/dge/runtime/dgetest"
)

// The graph's delays (retry 5–10 s, poll interval 1 s) are shortened: the
// semantics stay, the test takes a second.
func start(t *testing.T) *dgetest.Harness {
	return dgetest.Start(t, graph, dgetest.RetryDelay(5*time.Millisecond), dgetest.PollInterval(5*time.Millisecond))
}

func TestGraphComputesTwiceTheCube(t *testing.T) {
	h := start(t)
	xs := []int64{-7, -1, 0, 1, 3, 10, 1000, 100000}
	for _, x := range xs {
		h.Publish(t, "start", behaviour.Integer{Value: x})
	}
	h.Wait(t)
	got := dgetest.Results[behaviour.Integer](t, h, "result", len(xs))
	var values, want []int64
	for _, r := range got {
		values = append(values, r.Value)
	}
	for _, x := range xs {
		want = append(want, 2*x*x*x)
	}
	slices.Sort(values)
	slices.Sort(want)
	if !slices.Equal(values, want) {
		t.Errorf("results %v, want %v", values, want)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %+v, want none", p)
	}
}

func TestOverflowingInputIsParkedWithItsReason(t *testing.T) {
	h := start(t)
	x := int64(math.MaxInt32) * 2 // x² overflows int64; 2x does not
	run := h.Publish(t, "start", behaviour.Integer{Value: x})
	parked := h.WaitParked(t, "square", 1)
	f := parked[0]
	if len(parked) != 1 || f.RunID != run || f.Node != "process.square" || f.Reason != "max-attempts" || f.Attempt != 5 ||
		!strings.Contains(f.Error, "overflows int64") {
		t.Errorf("parked %+v, want run %s parked by process.square after 5 attempts with the overflow error", parked, run)
	}
	// The run ends at once: a failure notice follows square's output, the
	// aggregate parks double's part as member-failed (without waiting for
	// its 10-minute timeout), and the result queue receives the run's
	// failure record.
	rec := dgetest.Failures(t, h, "result", 1)[0]
	if rec.RunID != run || rec.Failed.Node != "process.square" || rec.Failed.Reason != "max-attempts" {
		t.Errorf("failure record %+v (%+v), want run %s failed at process.square", rec, rec.Failed, run)
	}
	h.Wait(t)
	if p := h.Parked(t, "multiply"); len(p) != 1 || p[0].Reason != "member-failed" || p[0].RunID != run {
		t.Errorf("multiply parked %+v, want double's part of run %s as member-failed", p, run)
	}
	if p := h.Parked(t, "double"); len(p) != 0 {
		t.Errorf("double parked %+v, want none", p)
	}
}
