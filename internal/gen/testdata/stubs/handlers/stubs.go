package handlers

import (
	"context"
	"errors"
	"log/slog"

	dgepkg "github.com/dgehq/dge/runtime"
)

// Range is the message of queue "ranges", "digits", "numbers". Messages travel as JSON:
// give it the fields they carry.
type Range struct{}

// Float is the message of queue "rest_call". Messages travel as JSON:
// give it the fields they carry.
type Float struct{}

// Total is the message of queue "collected", "total". Messages travel as JSON:
// give it the fields they carry.
type Total struct{}

// Kind is the handler of route.by_kind: it returns the label of the
// path each message takes. It is not written yet: it sends every
// message down the default path, terminate.rest.
func Kind(ctx context.Context, in Integer) (label string, err error) {
	return "*", nil
}

// Digits is the handler of split.digits. It is not written yet: it fails
// every message, which is retried and then parked.
func Digits(ctx context.Context, in Range) (items []Integer, err error) {
	return items, errors.New("split.digits: handler Digits is not written yet")
}

// Collect is the handler of gather.collect. It is not written yet: it fails
// every message, which is retried and then parked.
func Collect(ctx context.Context, items []Integer) (out Total, err error) {
	return out, errors.New("gather.collect: handler Collect is not written yet")
}

// Numbers is the handler of split.numbers. It is not written yet: it fails
// every message, which is retried and then parked.
func Numbers(ctx context.Context, in Range) (items []Integer, err error) {
	return items, errors.New("split.numbers: handler Numbers is not written yet")
}

// Sum is the handler of gather.sum. It is not written yet: it fails
// every message, which is retried and then parked.
func Sum(ctx context.Context, acc Total, item Integer) (out Total, err error) {
	return out, errors.New("gather.sum: handler Sum is not written yet")
}

// NewTotal returns the starting value of the accumulator gather.sum folds
// the items of a split into. It returns Total's zero value until you write it.
func NewTotal() Total {
	var acc Total
	return acc
}

// Sign is the handler of route.by_sign: it returns the label of the
// path each message takes. It is not written yet: it sends every
// message down the path "negative", terminate.negative.
func Sign(ctx context.Context, in Integer) (label string, err error) {
	return "negative", nil
}

// Square is the handler of process.square. It is not written yet: it fails
// every message, which is retried and then parked.
func Square(ctx context.Context, in Integer) (out Integer, err error) {
	return out, errors.New("process.square: handler Square is not written yet")
}

// Multiply is the handler of aggregate.multiply. It is not written yet: it fails
// every message, which is retried and then parked.
func Multiply(ctx context.Context, parts []Integer) (out Float, err error) {
	return out, errors.New("aggregate.multiply: handler Multiply is not written yet")
}

// RestCall is the handler of poll.rest_call. It is not written yet: it fails
// every message, which is retried and then parked.
func RestCall(ctx context.Context, in Float) (out Integer, done bool, err error) {
	return out, false, errors.New("poll.rest_call: handler RestCall is not written yet")
}

// AcceptFailure is the graph's on_failure function, called for every parked
// message. It is not written yet: it only logs the message.
func AcceptFailure(ctx context.Context, f dgepkg.Failure) {
	slog.WarnContext(ctx, "message parked (AcceptFailure is not written yet)", "node", f.Node, "run_id", f.RunID, "reason", f.Reason, "error", f.Error)
}
