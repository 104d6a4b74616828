// Package behaviour is the handlers package of the orders example graph
// (examples/orders/graph.dge.hcl): an order is validated, then stock is
// reserved and the card charged side by side, the two joined by a typed
// aggregate (a Reservation and a Payment) into a Confirmation, and the
// order shipped.
//
// A declined card ends the run at once: Charge returns a permanent error,
// the runtime parks the order at process.charge and sends a failure notice
// downstream, the join parks the reservation waiting for it as
// member-failed, and terminate.shipped receives one failure record for the
// run.
package behaviour
