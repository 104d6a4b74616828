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

func TestDeclinedCardEndsTheRunAtOnce(t *testing.T) {
	h := start(t)
	good := h.Publish(t, "order", order(1, "4242"))
	declined := h.Publish(t, "order", order(2, behaviour.DeclinedCard))
	failures := dgetest.Failures(t, h, "shipped", 1)
	if f := failures[0]; f.RunID != declined || f.Failed == nil || f.Failed.Node != "process.charge" || f.Failed.Reason != "permanent" || f.Failed.Error != "card declined" {
		t.Errorf("failure record %+v (%+v), want run %s failed at process.charge: permanent, card declined", f, f.Failed, declined)
	}
	shipped := dgetest.Results[behaviour.Shipment](t, h, "shipped", 1)
	if shipped[0].OrderID != "o-1" {
		t.Errorf("shipped %+v, want order o-1 (run %s)", shipped, good)
	}
	// The reservation waiting at the join is parked at once, not after the
	// join's five-minute timeout, so Wait returns at once.
	h.Wait(t)
	parked := h.Parked(t, "")
	var got []string
	for _, p := range parked {
		got = append(got, p.Node+" "+p.Reason)
		if p.RunID != declined {
			t.Errorf("parked %+v of run %s, want only run %s parked", p, p.RunID, declined)
		}
	}
	slices.Sort(got)
	if want := []string{"aggregate.confirm member-failed", "process.charge permanent"}; !slices.Equal(got, want) {
		t.Errorf("parked %v, want %v", got, want)
	}
}

func TestInvalidOrderFailsBeforeTheSplit(t *testing.T) {
	h := start(t)
	run := h.Publish(t, "order", behaviour.Order{ID: "o-9", Item: "book", Quantity: 0})
	f := dgetest.Failures(t, h, "shipped", 1)[0]
	if f.RunID != run || f.Failed.Node != "process.validate" || f.Failed.Reason != "permanent" {
		t.Errorf("failure record %+v (%+v), want run %s failed at process.validate", f, f.Failed, run)
	}
	h.Wait(t)
	if p := h.Parked(t, ""); len(p) != 1 || p[0].Node != "process.validate" {
		t.Errorf("parked %+v, want the order at process.validate only", p)
	}
}
