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

process "ship" {
  from    = aggregate.confirm
  queue   = "orders.ship"
  message = "Confirmation"
  handler = "Ship"
}

terminate "shipped" {
  from    = process.ship
  queue   = "orders.shipped"
  message = "Shipment"
}
