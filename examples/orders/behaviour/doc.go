// Package behaviour is the handlers package of the orders example graph
// (examples/orders/graph.dge.hcl): an order is validated, then stock is
// reserved and the card charged side by side, the two joined by a typed
// aggregate (a Reservation and a Payment) into a Confirmation. A route
// (ByAmount) then sends each confirmed order down one of two paths: an
// order over 1,000.00 EUR waits for a manual review (the poll node Review),
// any other is approved at once (AutoApprove). Both paths merge into
// process.ship, and the Shipment records the path its order took.
//
// A declined card ends the run at once: Charge returns a permanent error,
// the runtime parks the order at process.charge and sends a failure notice
// downstream, the join parks the reservation waiting for it as
// member-failed, and terminate.shipped receives one failure record for the
// run. An order in a currency other than euros gets a label no path takes
// (its currency code): the route parks it with reason no-route, and
// terminate.shipped again receives one failure record.
package behaviour
