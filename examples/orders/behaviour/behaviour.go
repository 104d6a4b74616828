package behaviour

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	dge "github.com/dgehq/dge/runtime"
)

// Order is what a customer asks for, as JSON
// {"id": "o-1", "item": "book", "quantity": 2, "card": "4242", "amount_cents": 3000}.
type Order struct {
	ID          string `json:"id"`
	Item        string `json:"item"`
	Quantity    int    `json:"quantity"`
	Card        string `json:"card"`
	AmountCents int64  `json:"amount_cents"`
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
	Transaction string `json:"transaction"`
}

// Confirmation is an order with its stock reserved and its card charged.
type Confirmation struct {
	OrderID     string `json:"order_id"`
	Item        string `json:"item"`
	Quantity    int    `json:"quantity"`
	Transaction string `json:"transaction"`
}

// Shipment is a confirmed order on its way.
type Shipment struct {
	OrderID  string `json:"order_id"`
	Tracking string `json:"tracking"`
}

// DeclinedCard is the card number Charge always declines, for trying out
// failures.
const DeclinedCard = "0000"

// Validate refuses, for good, an order without an ID or item, with a
// quantity below 1 or a negative amount.
func Validate(_ context.Context, o Order) (Order, error) {
	switch {
	case o.ID == "" || o.Item == "":
		return Order{}, dge.Permanent(errors.New("order without id or item"))
	case o.Quantity < 1:
		return Order{}, dge.Permanent(fmt.Errorf("order %s: quantity %d, want at least 1", o.ID, o.Quantity))
	case o.AmountCents < 0:
		return Order{}, dge.Permanent(fmt.Errorf("order %s: negative amount", o.ID))
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
	return Payment{OrderID: o.ID, AmountCents: o.AmountCents, Transaction: "tx-" + o.ID}, nil
}

// Confirm joins an order's reservation and payment: the runtime passes the
// part from reserve and the part from charge of the same run, each with its
// own type.
func Confirm(_ context.Context, r Reservation, p Payment) (Confirmation, error) {
	if r.OrderID != p.OrderID {
		return Confirmation{}, dge.Permanent(fmt.Errorf("reservation of order %s joined with payment of order %s", r.OrderID, p.OrderID))
	}
	return Confirmation{OrderID: r.OrderID, Item: r.Item, Quantity: r.Quantity, Transaction: p.Transaction}, nil
}

// Ship hands a confirmed order to the carrier.
func Ship(_ context.Context, c Confirmation) (Shipment, error) {
	return Shipment{OrderID: c.OrderID, Tracking: "TRK-" + strings.ToUpper(c.OrderID)}, nil
}

// LogFailure is the graph's on_failure handler: called once, at the node
// where a run failed (a declined card at process.charge), not at the nodes
// the failure notice passes afterwards.
func LogFailure(ctx context.Context, f dge.Failure) {
	slog.WarnContext(ctx, "order failed", "node", f.Node, "run_id", f.RunID, "reason", f.Reason, "error", f.Error)
}
