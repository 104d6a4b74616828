# Two entries and three exits, no poll node, no on_failure, classic queues
# and renamed exchanges: what the generated main.go leaves out or changes
# when a graph does not look like arith.
graph "multi" {
  handlers = "github.com/dgehq/dge/internal/gen/testdata/multi/behaviour"
}

broker {
  vhost          = "shop"
  queue_type     = "classic"
  work_exchange  = "shop.in"
  retry_exchange = "shop.again"
}

start "orders" {}

start "refunds" {}

process "price" {
  from         = start.orders
  queue        = "orders"
  message      = "Order"
  handler      = "Price"
  retry        = "250ms"
  max_attempts = 3
  prefetch     = 100
  concurrency  = 4
}

fan_out "book" {
  from    = process.price
  queue   = "priced"
  message = "Priced"
  retry   = "1m30s"
}

terminate "ledger" {
  from    = fan_out.book
  queue   = "ledger"
  message = "Priced"
}

terminate "audit" {
  from    = fan_out.book
  queue   = "audit"
  message = "Priced"
  retry   = "2h"
}

process "reverse" {
  from    = start.refunds
  queue   = "refunds"
  message = "Refund"
  handler = "Reverse"
  retry   = "1500ms"
}

terminate "refunded" {
  from    = process.reverse
  queue   = "refunded"
  message = "Priced"
}
