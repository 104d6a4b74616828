package runtime

import (
	"log/slog"
	"testing"
	"time"
)

func TestTargetWindow(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		concurrency int
		h, c        time.Duration
		want        int
	}{
		// A 20 ms handler: one delivery in the handler, two for the
		// confirm and the ack's trip, five for the slack.
		{"slow handler", 1, 20 * ms, 5 * ms, 7},
		{"slow handler, 4 workers", 4, 20 * ms, 5 * ms, 26},
		{"very slow handler", 1, 2 * time.Second, 5 * ms, 2},
		// A fast handler: the confirm round trip dominates.
		{"fast handler", 1, ms, 5 * ms, 111},
		{"faster handler, capped", 1, 50 * time.Microsecond, 5 * ms, maxWindow},
		{"no handler time measured", 1, 0, 0, maxWindow},
	} {
		if got := targetWindow(tc.concurrency, tc.h, tc.c); got != tc.want {
			t.Errorf("%s: targetWindow(%d, %s, %s) = %d, want %d", tc.name, tc.concurrency, tc.h, tc.c, got, tc.want)
		}
	}
}

func TestChangeWindow(t *testing.T) {
	for _, tc := range []struct {
		cur, want int
		change    bool
	}{
		{32, 3, true},
		{32, 500, true},
		{3, 4, false}, // noise around a small window
		{3, 5, true},
		{500, 512, false},
		{500, 370, true},
	} {
		if got := changeWindow(tc.cur, tc.want); got != tc.change {
			t.Errorf("changeWindow(%d, %d) = %v, want %v", tc.cur, tc.want, got, tc.change)
		}
	}
}

// TestWindowModes checks which prefetch settings fix the window.
func TestWindowModes(t *testing.T) {
	e := &engine{g: &Graph{}, log: slog.New(slog.DiscardHandler), metrics: newMetrics("modes")}
	edge := func(prefetch int) Edge { return Edge{Queue: "q", Message: "num", Prefetch: prefetch} }
	proc := func(prefetch int) Node {
		return Process[num, num]("p", edge(prefetch), double, "out")
	}
	agg := Aggregate[num, num]("j", edge(0), []string{"process.a", "process.b"}, time.Minute, nil, "out")
	for _, tc := range []struct {
		name     string
		n        Node
		flag     int
		prefetch int
		adaptive bool
	}{
		{"default", proc(0), 0, startWindow, true},
		{"edge prefetch", proc(10), 0, 10, false},
		{"flag", proc(0), 7, 7, false},
		{"flag over edge", proc(10), 7, 7, false},
		{"aggregate", agg, 0, aggregatePrefetch, false},
		{"fan_out", FanOut[num]("f", edge(0), "a", "b"), 0, maxWindow, false},
		{"fan_out with a prefetch", FanOut[num]("f", edge(5), "a", "b"), 0, 5, false},
	} {
		r := e.newRun(tc.n, tc.flag, 0)
		if r.prefetch != tc.prefetch || r.adaptive != tc.adaptive {
			t.Errorf("%s: prefetch %d adaptive %v, want %d %v", tc.name, r.prefetch, r.adaptive, tc.prefetch, tc.adaptive)
		}
	}
}

// TestWorkedCountsTowardTheWindow: a split's publishing of its items
// (worked) counts as handler time, so a split whose handler takes
// microseconds but whose items take 20 ms gets a small window, not the
// largest, which would hoard inputs that a crash hands back all at once.
func TestWorkedCountsTowardTheWindow(t *testing.T) {
	w := &window{adaptive: true, concurrency: 1, size: startWindow}
	for range 10 {
		w.handled(10 * time.Microsecond)
		w.worked(20 * time.Millisecond)
	}
	got, change := w.adapt()
	if want := targetWindow(1, 20*time.Millisecond+10*time.Microsecond, 0); got != want || !change || got >= startWindow {
		t.Errorf("window after handlers of 10µs with 20ms of items: %d (change %v), want %d, below the starting %d", got, change, want, startWindow)
	}
}
