package behaviour_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/dgehq/dge/examples/arith/behaviour"
	dge "github.com/dgehq/dge/runtime"
)

func TestDoubleSquare(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		x, double, square int64
	}{
		{0, 0, 0},
		{3, 6, 9},
		{-4, -8, 16},
		{3037000499, 6074000998, 9223372030926249001}, // ⌊√MaxInt64⌋
		{-3037000499, -6074000998, 9223372030926249001},
	}
	for _, tt := range tests {
		d, err := behaviour.Double(ctx, behaviour.Integer{Value: tt.x})
		if err != nil || d.Value != tt.double {
			t.Errorf("Double(%d) = %d, %v; want %d, nil", tt.x, d.Value, err, tt.double)
		}
		s, err := behaviour.Square(ctx, behaviour.Integer{Value: tt.x})
		if err != nil || s.Value != tt.square {
			t.Errorf("Square(%d) = %d, %v; want %d, nil", tt.x, s.Value, err, tt.square)
		}
	}
}

func TestOverflow(t *testing.T) {
	ctx := t.Context()
	for _, x := range []int64{math.MaxInt64, math.MinInt64, math.MaxInt64/2 + 1, math.MinInt64/2 - 1} {
		if got, err := behaviour.Double(ctx, behaviour.Integer{Value: x}); err == nil {
			t.Errorf("Double(%d) = %d, nil; want an overflow error", x, got.Value)
		}
	}
	for _, x := range []int64{3037000500, -3037000500, math.MaxInt64, math.MinInt64} {
		if got, err := behaviour.Square(ctx, behaviour.Integer{Value: x}); err == nil || !strings.Contains(err.Error(), "overflows") {
			t.Errorf("Square(%d) = %d, %v; want an overflow error", x, got.Value, err)
		}
	}
}

func TestMultiply(t *testing.T) {
	ctx := t.Context()
	got, err := behaviour.Multiply(ctx, []behaviour.Integer{{Value: 6}, {Value: 9}})
	if err != nil || got.Value != 54 {
		t.Errorf("Multiply(6, 9) = %v, %v; want 54, nil", got.Value, err)
	}
	for _, parts := range [][]behaviour.Integer{nil, {{Value: 1}}, {{Value: 1}, {Value: 2}, {Value: 3}}} {
		if _, err := behaviour.Multiply(ctx, parts); err == nil || !strings.Contains(err.Error(), "want 2") {
			t.Errorf("Multiply(%d parts) error = %v; want one saying it wants 2 parts", len(parts), err)
		}
	}
}

// TestPipeline runs the handlers in the graph's order, as the runtime would:
// the result for x is 2x³.
func TestPipeline(t *testing.T) {
	behaviour.ResetChecks()
	ctx := t.Context()
	for _, x := range []int64{-7, 0, 1, 3, 1000} {
		d, err := behaviour.Double(ctx, behaviour.Integer{Value: x})
		if err != nil {
			t.Fatal(err)
		}
		s, err := behaviour.Square(ctx, behaviour.Integer{Value: x})
		if err != nil {
			t.Fatal(err)
		}
		p, err := behaviour.Multiply(ctx, []behaviour.Integer{d, s})
		if err != nil {
			t.Fatal(err)
		}
		out, checks := pollUntilDone(t, ctx, p)
		if want := 2 * x * x * x; out.Value != want {
			t.Errorf("x=%d: result %d, want 2x³ = %d", x, out.Value, want)
		}
		if checks != 3 {
			t.Errorf("x=%d: done after %d checks, want 3", x, checks)
		}
	}
}

func pollUntilDone(t *testing.T, ctx context.Context, in behaviour.Float) (behaviour.Integer, int) {
	t.Helper()
	for n := 1; n <= 10; n++ {
		out, done, err := behaviour.RestCall(ctx, in)
		if err != nil {
			t.Fatalf("RestCall(%v): %v", in.Value, err)
		}
		if done {
			return out, n
		}
		if out != (behaviour.Integer{}) {
			t.Errorf("RestCall(%v) not done returned %v; want the zero Integer", in.Value, out)
		}
	}
	t.Fatalf("RestCall(%v) not done after 10 checks", in.Value)
	return behaviour.Integer{}, 0
}

func TestRestCallCountsPerValue(t *testing.T) {
	behaviour.ResetChecks()
	ctx := t.Context()
	a, b := behaviour.Float{Value: 101}, behaviour.Float{Value: 202}
	// Interleaved checks of two values do not advance each other.
	for i := 0; i < 2; i++ {
		for _, in := range []behaviour.Float{a, b} {
			if _, done, err := behaviour.RestCall(ctx, in); done || err != nil {
				t.Fatalf("check %d of %v: done=%v err=%v; want not done", i+1, in.Value, done, err)
			}
		}
	}
	for _, in := range []behaviour.Float{a, b} {
		out, done, err := behaviour.RestCall(ctx, in)
		if !done || err != nil || out.Value != int64(in.Value) {
			t.Errorf("third check of %v = %v, %v, %v; want %d, true, nil", in.Value, out.Value, done, err, int64(in.Value))
		}
	}
}

func TestRestCallConcurrent(t *testing.T) {
	behaviour.ResetChecks()
	ctx := t.Context()
	in := behaviour.Float{Value: 303}
	var wg sync.WaitGroup
	dones := make(chan bool, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, done, err := behaviour.RestCall(ctx, in)
			if err != nil {
				t.Error(err)
			}
			dones <- done
		}()
	}
	wg.Wait()
	close(dones)
	n := 0
	for d := range dones {
		if d {
			n++
		}
	}
	// The first two checks are not done, whichever goroutines make them.
	if n != 28 {
		t.Errorf("30 concurrent checks of one value: %d done, want 28", n)
	}
}

func TestRestCallRejectsUnrepresentable(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e19, -1e19} {
		if _, done, err := behaviour.RestCall(t.Context(), behaviour.Float{Value: v}); err == nil || done {
			t.Errorf("RestCall(%v) = done %v, err %v; want an error", v, done, err)
		}
	}
}

func TestAcceptFailure(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	behaviour.AcceptFailure(t.Context(), dge.Failure{})
	behaviour.AcceptFailure(t.Context(), dge.Failure{Node: "process.double", Reason: "max-attempts", Body: []byte(`{"value":1}`)})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{`"msg":"message parked"`, `"node":"process.double"`, `"reason":"max-attempts"`, `"body":"{\"value\":1}"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("log line %s lacks %s", lines[1], want)
		}
	}
}
