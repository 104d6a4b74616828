package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dgehq/dge/examples/orders/behaviour"
	"github.com/dgehq/dge/runtime/dgetest"
)

// The graph's retry delay (5 s) is shortened: the semantics stay, the test
// takes a moment.
func start(t *testing.T) *dgetest.Harness {
	return dgetest.Start(t, graph, dgetest.RetryDelay(5*time.Millisecond))
}

func order(i int, card string) behaviour.Order {
	return behaviour.Order{ID: fmt.Sprintf("o-%d", i), Item: "book", Quantity: i, Card: card, AmountCents: int64(1000 * i)}
}

func TestOrdersAreShipped(t *testing.T) {
	h := start(t)
	for i := 1; i <= 5; i++ {
		h.Publish(t, "order", order(i, "4242"))
	}
	h.Wait(t)
	got := dgetest.Results[behaviour.Shipment](t, h, "shipped", 5)
	var ids []string
	for _, s := range got {
		if s.Tracking != "TRK-O-"+s.OrderID[2:] {
			t.Errorf("shipment %+v: wrong tracking number", s)
		}
		ids = append(ids, s.OrderID)
	}
	slices.Sort(ids)
	if want := []string{"o-1", "o-2", "o-3", "o-4", "o-5"}; !slices.Equal(ids, want) {
		t.Errorf("shipped %v, want %v", ids, want)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %+v, want none", p)
	}
}
