start "order" {}

process "validate" {
  from         = start.order
  queue        = "legacy_orders"
  message      = "Order"
  handler      = "Validate"
  max_attempts = 3
  prefetch     = 100
  concurrency  = 8
}
