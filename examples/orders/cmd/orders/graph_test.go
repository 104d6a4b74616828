package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/examples/orders/behaviour"
	"github.com/dgehq/dge/runtime/dgetest"
)

// The graph's retry delay (5 s) and the review's poll interval (1 s) are
// shortened: the semantics stay, the test takes a moment.
func start(t *testing.T) *dgetest.Harness {
	return dgetest.Start(t, graph, dgetest.RetryDelay(5*time.Millisecond), dgetest.PollInterval(5*time.Millisecond))
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
		if s.Path != behaviour.PathAutoApprove {
			t.Errorf("shipment %+v: path %q, want %q (every order is at most 50.00 EUR)", s, s.Path, behaviour.PathAutoApprove)
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

// TestRouteByAmount: each order takes the path its amount names, and both
// paths merge into ship: the orders over 1,000.00 EUR are shipped after
// the review, the others at once; nothing is parked.
func TestRouteByAmount(t *testing.T) {
	h := start(t)
	want := map[string]string{}
	for i, amount := range []int64{1500, behaviour.ReviewThresholdCents, behaviour.ReviewThresholdCents + 1, 250_000, 99} {
		o := behaviour.Order{ID: fmt.Sprintf("o-%d", i), Item: "lamp", Quantity: 1, Card: "4242", AmountCents: amount}
		if i%2 == 1 {
			o.Currency = behaviour.Euro
		}
		want[o.ID] = behaviour.PathAutoApprove
		if amount > behaviour.ReviewThresholdCents {
			want[o.ID] = behaviour.PathReview
		}
		h.Publish(t, "order", o)
	}
	h.Wait(t)
	got := map[string]string{}
	for _, s := range dgetest.Results[behaviour.Shipment](t, h, "shipped", len(want)) {
		got[s.OrderID] = s.Path
	}
	if !maps.Equal(got, want) {
		t.Errorf("paths by order %v, want %v", got, want)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %+v, want none", p)
	}
}

// TestOrderNoPathTakesIsParked: an order in dollars is labelled "USD",
// which no path takes: it is parked at the route as no-route, naming the
// label and the labels the route takes, its run ends with one failure
// record, and the other orders are shipped.
func TestOrderNoPathTakesIsParked(t *testing.T) {
	h := start(t)
	h.Publish(t, "order", order(1, "4242"))
	usd := order(2, "4242")
	usd.Currency = "USD"
	run := h.Publish(t, "order", usd)
	f := dgetest.Failures(t, h, "shipped", 1)[0]
	if f.RunID != run || f.Failed == nil || f.Failed.Node != "route.by_amount" || f.Failed.Reason != "no-route" {
		t.Fatalf("failure record %+v (%+v), want run %s failed at route.by_amount: no-route", f, f.Failed, run)
	}
	for _, label := range []string{"USD", behaviour.LabelLarge, behaviour.LabelSmall} {
		if !strings.Contains(f.Failed.Error, label) {
			t.Errorf("no-route error %q does not name %q (the label, then the labels the route takes)", f.Failed.Error, label)
		}
	}
	if s := dgetest.Results[behaviour.Shipment](t, h, "shipped", 1); s[0].OrderID != "o-1" {
		t.Errorf("shipped %+v, want order o-1", s)
	}
	h.Wait(t)
	if p := h.Parked(t, ""); len(p) != 1 || p[0].Node != "route.by_amount" || p[0].Reason != "no-route" || p[0].RunID != run {
		t.Errorf("parked %+v, want run %s's order at route.by_amount, no-route", p, run)
	}
}
