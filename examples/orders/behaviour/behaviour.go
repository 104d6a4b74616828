package behaviour

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	dge "github.com/dgehq/dge/runtime"
)

// Order is what a customer asks for, as JSON
// {"id": "o-1", "item": "book", "quantity": 2, "card": "4242", "amount_cents": 3000}.
// Currency is an ISO 4217 code; without one the order is in euros
// (the constant Euro).
type Order struct {
	ID          string `json:"id"`
	Item        string `json:"item"`
	Quantity    int    `json:"quantity"`
	Card        string `json:"card"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency,omitempty"`
}

// Reservation is stock set aside for an order.
type Reservation struct {
	OrderID  string `json:"order_id"`
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// Payment is a successful charge of an order's card.
type Payment struct {
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency,omitempty"`
	Transaction string `json:"transaction"`
}

// Confirmation is an order with its stock reserved and its card charged.
// Path is set by the path the order takes after route.by_amount: PathReview
// or PathAutoApprove.
type Confirmation struct {
	OrderID     string `json:"order_id"`
	Item        string `json:"item"`
	Quantity    int    `json:"quantity"`
	Transaction string `json:"transaction"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency,omitempty"`
	Path        string `json:"path,omitempty"`
}

// Shipment is a confirmed order on its way. Path names the path it took
// to shipping: PathReview or PathAutoApprove.
type Shipment struct {
	OrderID  string `json:"order_id"`
	Tracking string `json:"tracking"`
	Path     string `json:"path"`
}

// Euro is the currency of an order that names none, and the currency of
// ReviewThresholdCents.
const Euro = "EUR"

// ReviewThresholdCents is the amount, in euro cents, above which an order
// goes through a manual review (poll.review) before shipping: 1,000.00 EUR.
const ReviewThresholdCents = 100_000

// The labels ByAmount returns for orders in euros; the graph's paths take
// them (when = "large", when = "small").
const (
	LabelLarge = "large"
	LabelSmall = "small"
)

// The paths a confirmed order can take to shipping, as Shipment.Path
// names them: the names of their nodes.
const (
	PathReview      = "review"
	PathAutoApprove = "auto_approve"
)

// ReviewChecks is how many checks of poll.review a large order takes: the
// (simulated) reviewer approves it on this check.
const ReviewChecks = 2

// DeclinedCard is the card number Charge always declines, for trying out
// failures.
const DeclinedCard = "0000"

// currencyCode is the form of an ISO 4217 currency code.
var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate refuses, for good, an order without an ID or item, with a
// quantity below 1, a negative amount or a currency that is not three
// capital letters.
func Validate(_ context.Context, o Order) (Order, error) {
	switch {
	case o.ID == "" || o.Item == "":
		return Order{}, dge.Permanent(errors.New("order without id or item"))
	case o.Quantity < 1:
		return Order{}, dge.Permanent(fmt.Errorf("order %s: quantity %d, want at least 1", o.ID, o.Quantity))
	case o.AmountCents < 0:
		return Order{}, dge.Permanent(fmt.Errorf("order %s: negative amount", o.ID))
	case o.Currency != "" && !currencyCode.MatchString(o.Currency):
		return Order{}, dge.Permanent(fmt.Errorf("order %s: currency %q, want an ISO 4217 code such as EUR", o.ID, o.Currency))
	}
	return o, nil
}

// Reserve sets stock aside for an order. Every item is in stock in this
// example, up to 100 per order.
func Reserve(_ context.Context, o Order) (Reservation, error) {
	if o.Quantity > 100 {
		return Reservation{}, dge.Permanent(fmt.Errorf("order %s: only 100 %s in stock", o.ID, o.Item))
	}
	return Reservation{OrderID: o.ID, Item: o.Item, Quantity: o.Quantity}, nil
}

// Charge charges the order's card. The card DeclinedCard is declined: a
// permanent error, so the order is parked at once and the run fails.
func Charge(_ context.Context, o Order) (Payment, error) {
	if o.Card == DeclinedCard {
		return Payment{}, dge.Permanent(errors.New("card declined"))
	}
	return Payment{OrderID: o.ID, AmountCents: o.AmountCents, Currency: o.Currency, Transaction: "tx-" + o.ID}, nil
}

// Confirm joins an order's reservation and payment: the runtime passes the
// part from reserve and the part from charge of the same run, each with its
// own type.
func Confirm(_ context.Context, r Reservation, p Payment) (Confirmation, error) {
	if r.OrderID != p.OrderID {
		return Confirmation{}, dge.Permanent(fmt.Errorf("reservation of order %s joined with payment of order %s", r.OrderID, p.OrderID))
	}
	return Confirmation{OrderID: r.OrderID, Item: r.Item, Quantity: r.Quantity, Transaction: p.Transaction, AmountCents: p.AmountCents, Currency: p.Currency}, nil
}

// ByAmount is route.by_amount's handler: it names the path a confirmed
// order takes to shipping. An order in euros over ReviewThresholdCents is
// LabelLarge (the manual review), any other order in euros LabelSmall. The
// threshold is in euros only: an order in another currency is labelled
// with its currency code ("USD"), which no path of the graph takes, so the
// runtime parks it with reason no-route and the run ends with a failure
// record. To ship such orders, add a path whose when is that code (or a
// default path, when = "*") and redrive them with dge parked redrive.
func ByAmount(_ context.Context, c Confirmation) (string, error) {
	switch {
	case c.Currency != "" && c.Currency != Euro:
		return c.Currency, nil
	case c.AmountCents > ReviewThresholdCents:
		return LabelLarge, nil
	default:
		return LabelSmall, nil
	}
}

// reviews counts Review's checks per order ID (string → *atomic.Int64), as
// a review tool's table of open reviews would; an approved order's entry is
// removed.
var reviews sync.Map

// Review is poll.review's handler, the manual review of a large order: it
// stands in for a reviewer who approves every order on its ReviewChecks-th
// check. Until then it returns done = false, and the runtime checks again
// after the poll node's interval. The count is kept per order in this
// process, so with several instances a review may take a few more checks:
// it ends all the same. The approved order leaves stamped with PathReview.
func Review(_ context.Context, c Confirmation) (out Confirmation, done bool, err error) {
	n, _ := reviews.LoadOrStore(c.OrderID, new(atomic.Int64))
	if n.(*atomic.Int64).Add(1) < ReviewChecks {
		return Confirmation{}, false, nil
	}
	reviews.Delete(c.OrderID)
	c.Path = PathReview
	return c, true, nil
}

// AutoApprove is process.auto_approve's handler: an order at or below the
// review threshold needs no review, and leaves stamped with
// PathAutoApprove.
func AutoApprove(_ context.Context, c Confirmation) (Confirmation, error) {
	c.Path = PathAutoApprove
	return c, nil
}

// Ship hands a confirmed order to the carrier, whichever path it took
// (process.ship merges both): the shipment records that path.
func Ship(_ context.Context, c Confirmation) (Shipment, error) {
	if c.Path == "" {
		return Shipment{}, dge.Permanent(fmt.Errorf("order %s reached shipping without an approval (no path stamped)", c.OrderID))
	}
	return Shipment{OrderID: c.OrderID, Tracking: "TRK-" + strings.ToUpper(c.OrderID), Path: c.Path}, nil
}

// LogFailure is the graph's on_failure handler: called once, at the node
// where a run failed (a declined card at process.charge, an order no path
// takes at route.by_amount), not at the nodes
// the failure notice passes afterwards.
func LogFailure(ctx context.Context, f dge.Failure) {
	slog.WarnContext(ctx, "order failed", "node", f.Node, "run_id", f.RunID, "reason", f.Reason, "error", f.Error)
}
