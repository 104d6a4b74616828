package behaviour

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strconv"

	dge "github.com/dgehq/dge/runtime"
)

// MaxCount is the most numbers one Range may hold: a split's items are
// published one by one, and a range of billions is more likely a typo than
// a job.
const MaxCount = 10_000_000

// MaxN is the largest n FibAt computes: fib(n) has about 0.21·n decimal
// digits, and a bigger n makes one message too big to be useful.
const MaxN = 100_000

// RefuseEnv names the environment variable whose number FibAt refuses,
// permanently, to compute (a fault to inject in tests).
const RefuseEnv = "DGE_FIB_REFUSE"

// Range is the graph's input: the whole numbers From..To, both included,
// as JSON {"from": 1, "to": 10}. A Range with To < From holds no numbers.
type Range struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Number is one item of the split: N, and once FibAt has run, its
// Fibonacci number, as JSON {"n": 10, "value": 55}.
type Number struct {
	N     int64    `json:"n"`
	Value *big.Int `json:"value,omitempty"`
}

// Total is the fold's accumulator and the graph's result: how many numbers
// were summed, the smallest and largest n among them, and the sum of their
// Fibonacci numbers, as JSON {"count": 10, "first": 1, "last": 10, "sum": 143}.
// First and Last identify the run's range; they are 0 while Count is 0.
type Total struct {
	Count int64    `json:"count"`
	First int64    `json:"first"`
	Last  int64    `json:"last"`
	Sum   *big.Int `json:"sum"`
}

// Numbers splits a Range into its numbers, in order. An empty range is a
// split of no items: the gather still fires, with the zero Total.
func Numbers(_ context.Context, r Range) ([]Number, error) {
	if r.To < r.From {
		return []Number{}, nil
	}
	if r.From < 1 {
		return nil, dge.Permanent(fmt.Errorf("range %d..%d: Fibonacci numbers start at n = 1; give a range from 1 up", r.From, r.To))
	}
	if r.To-r.From >= MaxCount {
		return nil, dge.Permanent(fmt.Errorf("range %d..%d holds %d numbers, more than the %d a run may split into; split it into several runs", r.From, r.To, r.To-r.From+1, MaxCount))
	}
	out := make([]Number, 0, r.To-r.From+1)
	for n := r.From; n <= r.To; n++ {
		out = append(out, Number{N: n})
	}
	return out, nil
}

// FibAt returns the number with its Fibonacci number: fib(1) = fib(2) = 1,
// fib(n) = fib(n-1) + fib(n-2). It refuses n < 1, n > MaxN, and the n
// named by DGE_FIB_REFUSE, each with a permanent error (no retry).
func FibAt(_ context.Context, in Number) (Number, error) {
	if in.N < 1 || in.N > MaxN {
		return Number{}, dge.Permanent(fmt.Errorf("fib(%d): n must be between 1 and %d", in.N, MaxN))
	}
	if s := os.Getenv(RefuseEnv); s != "" {
		refuse, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Number{}, fmt.Errorf("%s=%q: want a whole number (or unset it)", RefuseEnv, s)
		}
		if refuse == in.N {
			return Number{}, dge.Permanent(fmt.Errorf("fib(%d): refused because %s=%d; restart the instances without it and redrive the parked item", in.N, RefuseEnv, refuse))
		}
	}
	return Number{N: in.N, Value: Fib(in.N)}, nil
}

// Fib returns the nth Fibonacci number (fib(0) = 0, fib(1) = fib(2) = 1)
// by fast doubling, in O(log n) big-integer multiplications.
func Fib(n int64) *big.Int {
	a, b := big.NewInt(0), big.NewInt(1) // fib(0), fib(1)
	for i := 62; i >= 0; i-- {
		// fib(2k) = fib(k)·(2·fib(k+1) − fib(k)); fib(2k+1) = fib(k)² + fib(k+1)²
		t := new(big.Int).Lsh(b, 1)
		t.Sub(t, a)
		c := t.Mul(a, t)
		d := new(big.Int).Mul(a, a)
		d.Add(d, new(big.Int).Mul(b, b))
		a, b = c, d
		if n>>uint(i)&1 == 1 {
			a, b = b, new(big.Int).Add(a, b)
		}
	}
	return a
}

// NewTotal is the fold's zero: nothing summed yet.
func NewTotal() Total { return Total{Sum: new(big.Int)} }

// Sum folds one number into the total. It returns a new Total and leaves
// acc as it was (the runtime may hand it the same accumulator again). The
// sum, count and range do not depend on the order numbers arrive in.
func Sum(_ context.Context, acc Total, item Number) (Total, error) {
	if item.Value == nil {
		return Total{}, dge.Permanent(errors.New("sum: number without a value: FibAt must run before the gather"))
	}
	sum := new(big.Int)
	if acc.Sum != nil {
		sum.Set(acc.Sum)
	}
	out := Total{Count: acc.Count + 1, First: acc.First, Last: acc.Last, Sum: sum.Add(sum, item.Value)}
	if acc.Count == 0 || item.N < out.First {
		out.First = item.N
	}
	if acc.Count == 0 || item.N > out.Last {
		out.Last = item.N
	}
	return out, nil
}

// LogFailure is the graph's on_failure handler: it logs every parked
// message, which stays in its queue's .dead queue for dge parked.
func LogFailure(ctx context.Context, f dge.Failure) {
	slog.WarnContext(ctx, "message parked",
		"node", f.Node,
		"queue", f.Queue,
		"run_id", f.RunID,
		"message_id", f.MessageID,
		"attempt", f.Attempt,
		"reason", f.Reason,
		"error", f.Error,
		"body", string(f.Body),
		"body_size", f.BodySize,
	)
}
