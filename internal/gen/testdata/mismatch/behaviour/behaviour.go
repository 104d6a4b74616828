// Package behaviour holds handlers whose signatures do not fit the
// generator's "mismatch" test graph, one fault each.
package behaviour

import (
	"context"

	dge "github.com/dgehq/dge/runtime"
)

// Integer is an integer message.
type Integer struct {
	Value int64 `json:"value"`
}

// Float is a floating-point message.
type Float struct {
	Value float64 `json:"value"`
}

// WithChan cannot travel as JSON: it holds a channel.
type WithChan struct {
	Value int64         `json:"value"`
	Done  chan struct{} `json:"done"`
}

// Limit and Ceiling are constants, not functions or types.
const (
	Limit   = 3
	Ceiling = 9
)

// Double fits a process node on Integer: the one correct handler.
func Double(ctx context.Context, in Integer) (Integer, error) {
	return Integer{2 * in.Value}, nil
}

// TakesFloat takes Float where the node's queue carries Integer.
func TakesFloat(ctx context.Context, in Float) (Integer, error) {
	return Integer{int64(in.Value)}, nil
}

// NoContext lacks the context parameter.
// triple is the handler of process.hidden, but not exported.
func triple(ctx context.Context, in Integer) (Integer, error) { return Integer{3 * in.Value}, nil }

func NoContext(in Integer) (Integer, error) { return in, nil }

// NoError lacks the error result.
func NoError(ctx context.Context, in Integer) Integer { return in }

// Identity is generic.
func Identity[T any](ctx context.Context, in T) (T, error) { return in, nil }

// Many is variadic.
func Many(ctx context.Context, in ...Integer) (Integer, error) { return Integer{}, nil }

// SumOne takes one part where an aggregate passes a slice.
func SumOne(ctx context.Context, in Integer) (Float, error) { return Float{float64(in.Value)}, nil }

// CheckNoDone lacks the done result of a poll handler.
func CheckNoDone(ctx context.Context, in Float) (Integer, error) {
	return Integer{int64(in.Value)}, nil
}

// ToChan returns a type that cannot be JSON.
func ToChan(ctx context.Context, in Integer) (WithChan, error) { return WithChan{Value: in.Value}, nil }

// BadFailure returns a value, which an on_failure function must not.
func BadFailure(ctx context.Context, f dge.Failure) error { return nil }

// ToFloat fits a process node from Integer to Float.
func ToFloat(ctx context.Context, in Integer) (Float, error) { return Float{float64(in.Value)}, nil }

// Swapped takes typed parts in the wrong order.
func Swapped(ctx context.Context, f Float, i Integer) (Integer, error) { return i, nil }

// SumSlice takes the slice of a single-type aggregate where the parts are
// typed.
func SumSlice(ctx context.Context, parts []Integer) (Float, error) { return Float{}, nil }

// Digits splits a number into its decimal digits: a correct split handler.
func Digits(ctx context.Context, in Integer) ([]Integer, error) {
	var out []Integer
	for v := in.Value; v > 0; v /= 10 {
		out = append(out, Integer{v % 10})
	}
	return out, nil
}

// NewFloat is a correct zero for a fold into Float.
func NewFloat() Float { return Float{} }

// AddDigit folds a digit into a Float accumulator.
func AddDigit(ctx context.Context, acc Float, item Integer) (Float, error) {
	return Float{acc.Value + float64(item.Value)}, nil
}

// LabelFloat names a path for a Float, where its route carries Integer.
func LabelFloat(ctx context.Context, in Float) (string, error) { return "one", nil }
