package behaviour

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	dge "github.com/dgehq/dge/runtime"
)

// Number is the one message type of the chain graph.
type Number struct {
	Value int64 `json:"value"`
}

// Fault-injecting inputs of Double.
const (
	PermanentValue = -1        // Double fails permanently (unless CHAIN_FIXED is set: the fix deployed)
	PanicValue     = -2        // Double panics
	FailTwiceFrom  = 1_000_000 // Double fails twice, then succeeds
)

var (
	delay     time.Duration
	mu        sync.Mutex
	failCalls = map[int64]int{}
)

func init() {
	if s := os.Getenv("CHAIN_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			panic(fmt.Sprintf("CHAIN_DELAY=%q: %v", s, err))
		}
		delay = d
	}
}

// Double returns 2n, after injecting the faults the package doc lists.
func Double(ctx context.Context, n Number) (Number, error) {
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return Number{}, ctx.Err()
		}
	}
	switch {
	case n.Value == PermanentValue && os.Getenv("CHAIN_FIXED") == "":
		return Number{}, dge.Permanent(errors.New("negative one is refused"))
	case n.Value == PanicValue:
		panic("negative two breaks the handler")
	case n.Value >= FailTwiceFrom:
		mu.Lock()
		failCalls[n.Value]++
		c := failCalls[n.Value]
		mu.Unlock()
		if c <= 2 {
			return Number{}, fmt.Errorf("transient failure %d for %d", c, n.Value)
		}
	}
	return Number{Value: 2 * n.Value}, nil
}

// Increment returns n+1.
func Increment(_ context.Context, n Number) (Number, error) { return Number{Value: n.Value + 1}, nil }

// Square returns n².
func Square(_ context.Context, n Number) (Number, error) {
	return Number{Value: n.Value * n.Value}, nil
}

// RecordFailure logs a parked message.
func RecordFailure(_ context.Context, f dge.Failure) {
	slog.Warn("chain: message parked", "node", f.Node, "reason", f.Reason, "run_id", f.RunID, "error", f.Error)
}

// Sum adds the parts of a join.
func Sum(_ context.Context, parts []Number) (Number, error) {
	var s int64
	for _, p := range parts {
		s += p.Value
	}
	return Number{Value: s}, nil
}
