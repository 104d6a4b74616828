# A route with no default path: an order is "small" or "large", any other
# label is parked. Large orders wait for a manual review; the two paths
# merge before shipping, so the aggregate after it has a part on every
# run, as has the audit beside the route.
graph "orders" {
  handlers = "example.com/orders/behaviour"
}

start "in" {}

fan_out "order" {
  from    = start.in
  queue   = "order"
  message = "Order"
}

route "by_size" {
  from    = fan_out.order
  queue   = "by_size"
  message = "Order"
  handler = "Size"
}

process "small" {
  from    = route.by_size
  when    = "small"
  queue   = "small"
  message = "Order"
  handler = "Small"
}

poll "review" {
  from     = route.by_size
  when     = "large"
  queue    = "review"
  message  = "Order"
  handler  = "Review"
  interval = "1m"
}

process "ship" {
  from    = [process.small, poll.review]
  queue   = "ship"
  message = "Order"
  handler = "Ship"
}

process "audit" {
  from    = fan_out.order
  queue   = "audit"
  message = "Order"
  handler = "Audit"
}

aggregate "done" {
  from    = [process.ship, process.audit]
  queue   = "done"
  message = "Step"
  handler = "Done"
}

terminate "out" {
  from    = aggregate.done
  queue   = "out"
  message = "Receipt"
}
