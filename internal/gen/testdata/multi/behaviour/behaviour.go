// Package behaviour holds the message types and handlers of the generator's
// "multi" test graph.
package behaviour

import (
	"context"
	"errors"
)

// Order is an order to price.
type Order struct {
	ID       string `json:"id"`
	Quantity int64  `json:"quantity"`
}

// Refund is an order to reverse.
type Refund struct {
	ID    string `json:"id"`
	Cents int64  `json:"cents"`
}

// Priced is a booked amount.
type Priced struct {
	ID    string `json:"id"`
	Cents int64  `json:"cents"`
}

// Price prices an order at 250 cents a unit.
func Price(ctx context.Context, in Order) (Priced, error) {
	if in.Quantity < 0 {
		return Priced{}, errors.New("negative quantity")
	}
	return Priced{ID: in.ID, Cents: 250 * in.Quantity}, nil
}

// Reverse books a refund as a negative amount.
func Reverse(ctx context.Context, in Refund) (Priced, error) {
	return Priced{ID: in.ID, Cents: -in.Cents}, nil
}
