package behaviour_test

import (
	"context"
	"testing"

	"github.com/dgehq/dge/examples/orders/behaviour"
	dge "github.com/dgehq/dge/runtime"
)

func TestByAmount(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{0, "", behaviour.LabelSmall},
		{behaviour.ReviewThresholdCents, "", behaviour.LabelSmall},
		{behaviour.ReviewThresholdCents + 1, "", behaviour.LabelLarge},
		{behaviour.ReviewThresholdCents + 1, behaviour.Euro, behaviour.LabelLarge},
		{500, behaviour.Euro, behaviour.LabelSmall},
		{500, "USD", "USD"},
		{behaviour.ReviewThresholdCents + 1, "GBP", "GBP"},
	} {
		got, err := behaviour.ByAmount(t.Context(), behaviour.Confirmation{OrderID: "o-1", AmountCents: tc.amount, Currency: tc.currency})
		if err != nil || got != tc.want {
			t.Errorf("ByAmount(%d %q) = %q, %v; want %q", tc.amount, tc.currency, got, err, tc.want)
		}
	}
}

// TestReviewApprovesOnItsCheck: the review is pending until its
// ReviewChecks-th check, then the order leaves stamped with its path; a
// second order's review counts on its own.
func TestReviewApprovesOnItsCheck(t *testing.T) {
	ctx := context.Background()
	c := behaviour.Confirmation{OrderID: "o-review", AmountCents: behaviour.ReviewThresholdCents + 1}
	other := behaviour.Confirmation{OrderID: "o-review-other"}
	for i := 1; i < behaviour.ReviewChecks; i++ {
		if _, done, err := behaviour.Review(ctx, c); done || err != nil {
			t.Fatalf("check %d: done %v, %v; want pending until check %d", i, done, err, behaviour.ReviewChecks)
		}
	}
	if _, done, _ := behaviour.Review(ctx, other); done && behaviour.ReviewChecks > 1 {
		t.Errorf("another order's first check was done: counts are per order")
	}
	out, done, err := behaviour.Review(ctx, c)
	if !done || err != nil || out.Path != behaviour.PathReview || out.OrderID != c.OrderID || out.AmountCents != c.AmountCents {
		t.Errorf("check %d = %+v, %v, %v; want the order approved with path %q", behaviour.ReviewChecks, out, done, err, behaviour.PathReview)
	}
}

func TestShipRecordsThePath(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{behaviour.PathReview, behaviour.PathAutoApprove} {
		s, err := behaviour.Ship(ctx, behaviour.Confirmation{OrderID: "o-7", Path: path})
		if err != nil || s != (behaviour.Shipment{OrderID: "o-7", Tracking: "TRK-O-7", Path: path}) {
			t.Errorf("Ship(path %q) = %+v, %v", path, s, err)
		}
	}
	a, err := behaviour.AutoApprove(ctx, behaviour.Confirmation{OrderID: "o-8"})
	if err != nil || a.Path != behaviour.PathAutoApprove {
		t.Errorf("AutoApprove = %+v, %v; want path %q", a, err, behaviour.PathAutoApprove)
	}
	_, err = behaviour.Ship(ctx, behaviour.Confirmation{OrderID: "o-9"})
	if !dge.IsPermanent(err) {
		t.Errorf("Ship of an order that took no path: %v, want a permanent error", err)
	}
}

func TestValidateCurrency(t *testing.T) {
	ctx := context.Background()
	o := behaviour.Order{ID: "o-1", Item: "book", Quantity: 1}
	for _, cur := range []string{"", "EUR", "USD"} {
		o.Currency = cur
		if _, err := behaviour.Validate(ctx, o); err != nil {
			t.Errorf("currency %q refused: %v", cur, err)
		}
	}
	for _, cur := range []string{"eur", "EURO", "E1R"} {
		o.Currency = cur
		if _, err := behaviour.Validate(ctx, o); !dge.IsPermanent(err) {
			t.Errorf("currency %q: %v, want a permanent refusal", cur, err)
		}
	}
}
