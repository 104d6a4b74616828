// Package behaviour is the handlers package of the split and gather
// benchmark's graph (internal/e2e/testdata/splitbench): Items splits a
// Count into the items 0..N-1, Work maps item i to 2i+1, and Add folds
// them into a Total whose Sum is N² when every item was folded once.
package behaviour

import (
	"context"
	"errors"
)

// Count is the graph's input: how many items the split makes.
type Count struct {
	N int `json:"n"`
}

// Item is one item of the split; V is set by Work.
type Item struct {
	I int   `json:"i"`
	V int64 `json:"v,omitempty"`
}

// Total is the fold's accumulator and the graph's result.
type Total struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum"`
}

// Items splits a Count into the items 0..N-1.
func Items(_ context.Context, c Count) ([]Item, error) {
	if c.N < 0 {
		return nil, errors.New("count: n must not be negative")
	}
	out := make([]Item, c.N)
	for i := range out {
		out[i].I = i
	}
	return out, nil
}

// Work maps item i to 2i+1.
func Work(_ context.Context, it Item) (Item, error) {
	return Item{I: it.I, V: 2*int64(it.I) + 1}, nil
}

// Add folds an item into the total.
func Add(_ context.Context, acc Total, it Item) (Total, error) {
	return Total{Count: acc.Count + 1, Sum: acc.Sum + it.V}, nil
}
