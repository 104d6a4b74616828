package behaviour

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	dge "github.com/dgehq/dge/runtime"
)

// Integer is a message carrying a whole number, as JSON {"value": 3}.
type Integer struct {
	Value int64 `json:"value"`
}

// Float is a message carrying a real number, as JSON {"value": 54}.
type Float struct {
	Value float64 `json:"value"`
}

// Double returns 2x. It fails when 2x does not fit in an int64.
func Double(_ context.Context, in Integer) (Integer, error) {
	if in.Value > math.MaxInt64/2 || in.Value < math.MinInt64/2 {
		return Integer{}, fmt.Errorf("double %d: result overflows int64", in.Value)
	}
	return Integer{Value: 2 * in.Value}, nil
}

// Square returns x². It fails when x² does not fit in an int64.
func Square(_ context.Context, in Integer) (Integer, error) {
	abs := uint64(in.Value)
	if in.Value < 0 {
		abs = -abs
	}
	if hi, lo := bits.Mul64(abs, abs); hi != 0 || lo > math.MaxInt64 {
		return Integer{}, fmt.Errorf("square %d: result overflows int64", in.Value)
	}
	return Integer{Value: in.Value * in.Value}, nil
}

// Multiply returns the product of the parts of one run, which the runtime
// passes in the order of the aggregate's `from`: double's result, then
// square's. It fails unless there are exactly two parts. The product is a
// Float, so 2x³ does not overflow for any int64 parts.
func Multiply(_ context.Context, parts []Integer) (Float, error) {
	if len(parts) != 2 {
		return Float{}, fmt.Errorf("multiply: got %d parts, want 2 (double and square)", len(parts))
	}
	return Float{Value: float64(parts[0].Value) * float64(parts[1].Value)}, nil
}

// readyAfter is how many checks RestCall's simulated external system needs
// before a value is ready.
const readyAfter = 3

// checks counts RestCall's checks per value (float64 → *atomic.Int64).
var checks sync.Map

// RestCall stands in for an external system that takes a while to finish a
// job: it reports a value ready from its third check on, and returns the
// value truncated to an Integer. Until then it returns done = false, and the
// runtime checks again after the poll node's interval. The check count is
// kept per value in this process, like a remote system's job table, so a
// redelivered check of a finished value is done at once.
func RestCall(_ context.Context, in Float) (out Integer, done bool, err error) {
	if math.IsNaN(in.Value) || math.IsInf(in.Value, 0) || in.Value >= math.MaxInt64 || in.Value < math.MinInt64 {
		return Integer{}, false, fmt.Errorf("rest call %v: not representable as an int64", in.Value)
	}
	c, _ := checks.LoadOrStore(in.Value, new(atomic.Int64))
	if c.(*atomic.Int64).Add(1) < readyAfter {
		return Integer{}, false, nil
	}
	return Integer{Value: int64(in.Value)}, true, nil
}

// AcceptFailure is the graph's on_failure handler: it logs every parked
// message, which stays in its queue's .dead queue for inspection.
func AcceptFailure(ctx context.Context, f dge.Failure) {
	slog.WarnContext(ctx, "message parked",
		"node", f.Node,
		"queue", f.Queue,
		"run_id", f.RunID,
		"message_id", f.MessageID,
		"attempt", f.Attempt,
		"reason", f.Reason,
		"error", f.Error,
		"body", string(f.Body), // a preview: at most 1 KiB of the body
		"body_size", f.BodySize,
	)
}
