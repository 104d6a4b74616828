package behaviour_test

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dgehq/dge/examples/fib/behaviour"
	dge "github.com/dgehq/dge/runtime"
)

// fibLoop is the textbook iteration the fast doubling of Fib is checked
// against.
func fibLoop(n int64) *big.Int {
	a, b := big.NewInt(0), big.NewInt(1)
	for range n {
		a, b = b, new(big.Int).Add(a, b)
	}
	return a
}

func TestFib(t *testing.T) {
	for n, want := range []int64{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55} {
		if got := behaviour.Fib(int64(n)); got.Int64() != want {
			t.Errorf("Fib(%d) = %v, want %d", n, got, want)
		}
	}
	for _, n := range []int64{92, 93, 100, 1000, 4097} {
		if got, want := behaviour.Fib(n), fibLoop(n); got.Cmp(want) != 0 {
			t.Errorf("Fib(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestPipeline runs the handlers in the graph's order, as the runtime
// would: 1..10 gives 143, and the order the fold sees the numbers in does
// not change the total.
func TestPipeline(t *testing.T) {
	ctx := t.Context()
	items, err := behaviour.Numbers(ctx, behaviour.Range{From: 1, To: 10})
	if err != nil || len(items) != 10 {
		t.Fatalf("Numbers(1..10) = %v, %v; want 10 numbers", items, err)
	}
	for i, it := range items {
		if it.N != int64(i+1) || it.Value != nil {
			t.Fatalf("item %d = %+v, want {N: %d}", i, it, i+1)
		}
	}
	for round := range 3 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		acc := behaviour.NewTotal()
		for _, it := range items {
			f, err := behaviour.FibAt(ctx, it)
			if err != nil {
				t.Fatal(err)
			}
			if acc, err = behaviour.Sum(ctx, acc, f); err != nil {
				t.Fatal(err)
			}
		}
		b, err := json.Marshal(acc)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"count":10,"first":1,"last":10,"sum":143}`; string(b) != want {
			t.Errorf("order %v: total %s, want %s", items, b, want)
		}
	}
}

func TestSumLeavesTheAccumulatorAlone(t *testing.T) {
	ctx := t.Context()
	acc, err := behaviour.Sum(ctx, behaviour.NewTotal(), behaviour.Number{N: 5, Value: big.NewInt(5)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := behaviour.Sum(ctx, acc, behaviour.Number{N: 3, Value: big.NewInt(2)})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Sum.Int64() != 5 || acc.Count != 1 {
		t.Errorf("Sum changed the accumulator it was given: %+v", acc)
	}
	if next.Sum.Int64() != 7 || next.Count != 2 || next.First != 3 || next.Last != 5 {
		t.Errorf("Sum = %+v, want count 2, first 3, last 5, sum 7", next)
	}
	// A zero Total with a nil Sum (the fold's zero without NewTotal) works too.
	if got, err := behaviour.Sum(ctx, behaviour.Total{}, behaviour.Number{N: 2, Value: big.NewInt(1)}); err != nil || got.Sum.Int64() != 1 {
		t.Errorf("Sum(Total{}, 1) = %+v, %v; want sum 1", got, err)
	}
	if _, err := behaviour.Sum(ctx, acc, behaviour.Number{N: 4}); !isPermanent(err) {
		t.Errorf("Sum of a number without a value: %v, want a permanent error", err)
	}
}

func TestEmptyAndBadRanges(t *testing.T) {
	ctx := t.Context()
	if items, err := behaviour.Numbers(ctx, behaviour.Range{From: 5, To: 4}); err != nil || items == nil || len(items) != 0 {
		t.Errorf("Numbers(5..4) = %#v, %v; want an empty split", items, err)
	}
	for _, r := range []behaviour.Range{{From: 0, To: 3}, {From: 1, To: behaviour.MaxCount + 1}} {
		if _, err := behaviour.Numbers(ctx, r); !isPermanent(err) {
			t.Errorf("Numbers(%d..%d): %v, want a permanent error", r.From, r.To, err)
		}
	}
	for _, n := range []int64{0, -1, behaviour.MaxN + 1} {
		if _, err := behaviour.FibAt(ctx, behaviour.Number{N: n}); !isPermanent(err) {
			t.Errorf("FibAt(%d): %v, want a permanent error", n, err)
		}
	}
}

func TestRefuse(t *testing.T) {
	ctx := t.Context()
	t.Setenv(behaviour.RefuseEnv, "13")
	if _, err := behaviour.FibAt(ctx, behaviour.Number{N: 13}); !isPermanent(err) || !strings.Contains(err.Error(), "redrive") {
		t.Errorf("FibAt(13) with %s=13: %v, want a permanent error saying to redrive", behaviour.RefuseEnv, err)
	}
	if got, err := behaviour.FibAt(ctx, behaviour.Number{N: 12}); err != nil || got.Value.Int64() != 144 {
		t.Errorf("FibAt(12) with %s=13 = %+v, %v; want 144", behaviour.RefuseEnv, got, err)
	}
	t.Setenv(behaviour.RefuseEnv, "x")
	if _, err := behaviour.FibAt(ctx, behaviour.Number{N: 12}); err == nil || isPermanent(err) {
		t.Errorf("FibAt with %s=x: %v, want a retryable error naming the variable", behaviour.RefuseEnv, err)
	}
	t.Setenv(behaviour.RefuseEnv, "")
	if got, err := behaviour.FibAt(ctx, behaviour.Number{N: 13}); err != nil || got.Value.Int64() != 233 {
		t.Errorf("FibAt(13) = %+v, %v; want 233", got, err)
	}
}

func isPermanent(err error) bool { return err != nil && dge.IsPermanent(err) }
