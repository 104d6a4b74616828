graph "orders" {
  handlers   = "github.com/dgehq/dge/examples/orders/behaviour" # Go import path of the handlers
  on_failure = "LogFailure"                                      # called once where a run fails
}

broker {
  vhost      = var.vhost
  queue_type = "quorum"
}

variable "vhost" {
  default = "/"
}

start "order" {}

process "validate" {
  from    = start.order
  queue   = "orders.validate"
  message = "Order"
  handler = "Validate"
}

fan_out "split" {
  from    = process.validate
  queue   = "orders.split"
  message = "Order"
}

process "reserve" {
  from    = fan_out.split
  queue   = "orders.reserve"
  message = "Order"
  handler = "Reserve"
}

process "charge" {
  from    = fan_out.split
  queue   = "orders.charge"
  message = "Order"
  handler = "Charge"
}

# A typed join: the part from reserve is a Reservation, the part from charge
# a Payment, and Confirm takes one parameter of each type.
aggregate "confirm" {
  from    = [process.reserve, process.charge]
  queue   = "orders.confirm"
  message = ["Reservation", "Payment"]
  handler = "Confirm"
  timeout = "5m"
}

# Large orders wait for a manual review; the others are approved at once.
# The route's handler names the path: "large" (over 1,000.00 EUR), "small",
# or, for an order in another currency, that currency's code, which no path
# takes: such an order is parked as no-route and its run ends with a
# failure record.
route "by_amount" {
  from    = aggregate.confirm
  queue   = "orders.route"
  message = "Confirmation"
  handler = "ByAmount"
}

poll "review" {
  from     = route.by_amount
  when     = "large"
  queue    = "orders.review"
  message  = "Confirmation"
  handler  = "Review"
  interval = "1s"
}

process "auto_approve" {
  from    = route.by_amount
  when    = "small"
  queue   = "orders.approve"
  message = "Confirmation"
  handler = "AutoApprove"
}

# A merge: whichever path an order took, it is shipped here, alone.
process "ship" {
  from    = [poll.review, process.auto_approve]
  queue   = "orders.ship"
  message = "Confirmation"
  handler = "Ship"
}

terminate "shipped" {
  from    = process.ship
  queue   = "orders.shipped"
  message = "Shipment"
}
